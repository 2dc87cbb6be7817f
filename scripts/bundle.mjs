// Bundles the CLI (dist/cli.js) and the GitHub Action (dist/index.js) as ESM for Node 20.19+ / node24.
// Deterministic: the same sources give the same bytes, which test/unit/dist.test.ts relies on.
import { existsSync, mkdirSync } from 'node:fs';
import { build } from 'esbuild';

const outdir = process.argv[2] ?? 'dist';
// The driver's optional peers: loaded only when a user configures them (Kerberos, zstd, AWS auth, ...).
const optionalPeers = ['kerberos', '@mongodb-js/zstd', '@aws-sdk/credential-providers', 'snappy', 'aws4', 'mongodb-client-encryption', 'socks', 'gcp-metadata'];
const entries = { cli: 'src/cli/bin.ts', index: 'src/action/index.ts' };

mkdirSync(outdir, { recursive: true });
for (const [name, entry] of Object.entries(entries)) {
  if (!existsSync(entry)) continue;
  await build({
    entryPoints: [entry],
    outfile: `${outdir}/${name}.js`,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: optionalPeers,
    legalComments: 'none',
    logLevel: 'warning',
    // Some dependencies are CommonJS and call require(); ESM output has none unless we define it.
    banner: { js: "import { createRequire as __mlmCreateRequire } from 'node:module'; const require = __mlmCreateRequire(import.meta.url);" },
  });
}

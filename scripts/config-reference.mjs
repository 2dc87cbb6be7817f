// Generates the configuration reference from schemas/migration.schema.json into README.md between markers.
// `node scripts/config-reference.mjs` rewrites README.md; `--check` exits 1 when README.md is stale.
import { readFileSync, writeFileSync } from 'node:fs';

const START = '<!-- config-reference:start (generated from schemas/migration.schema.json by npm run docs) -->';
const END = '<!-- config-reference:end -->';

export function renderReference(schema) {
  const rows = [];
  const walk = (node, path, isRequired = false) => {
    const resolved = node.$ref ? { ...resolve(schema, node.$ref), ...node } : node;
    if (path) rows.push([path, typeOf(resolved, isRequired), defaultOf(resolved), resolved.description ?? '']);
    if (resolved.type === 'object' && resolved.properties) {
      const required = new Set(resolved.required ?? []);
      for (const [key, child] of Object.entries(resolved.properties)) {
        walk(child, path ? `${path}.${key}` : key, required.has(key));
      }
    }
  };
  walk(schema, '');
  const escape = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return ['| key | type | default | description |', '| --- | --- | --- | --- |',
    ...rows.map((r) => `| \`${r[0]}\` | ${escape(r[1])} | ${escape(r[2])} | ${escape(r[3])} |`)].join('\n');
}

function resolve(schema, ref) {
  return ref.replace(/^#\//, '').split('/').reduce((node, key) => node[key], schema);
}

function typeOf(node, isRequired) {
  const base = node.const !== undefined ? `\`${JSON.stringify(node.const)}\`` : node.enum ? node.enum.map((v) => `\`${v}\``).join(' \\| ') : node.type === 'array' ? 'list of strings' : node.type === 'object' && !node.properties ? 'map' : (node.type ?? 'string');
  return isRequired ? `${base} (required)` : base;
}

function defaultOf(node) {
  return node.default === undefined || (typeof node.default === 'object' && !Array.isArray(node.default)) ? '' : `\`${JSON.stringify(node.default)}\``;
}

export function updateReadme(readme, schema) {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < 0) throw new Error('README.md lacks the config-reference markers');
  return `${readme.slice(0, start)}${START}\n${renderReference(schema)}\n${readme.slice(end)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const schema = JSON.parse(readFileSync('schemas/migration.schema.json', 'utf8'));
  const readme = readFileSync('README.md', 'utf8');
  const next = updateReadme(readme, schema);
  if (process.argv.includes('--check')) {
    if (next !== readme) { console.error('README.md config reference is stale: run npm run docs'); process.exit(1); }
  } else writeFileSync('README.md', next);
}

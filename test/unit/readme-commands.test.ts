import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseInvocation } from '../../src/cli/program.js';

const readme = readFileSync('README.md', 'utf8');

/** Every `mongo-live-migrate …` line of the README's shell blocks, as argv (comments and env prefixes dropped). */
function documentedInvocations(): string[][] {
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks
    .flatMap((block) => block.split('\n'))
    .map((line) => line.replace(/\s+#.*$/, '').replace(/\s*[|>].*$/, '').trim())
    .filter((line) => !line.startsWith('#'))
    .filter((line) => /(^|[\s/])mongo-live-migrate\s/.test(line) && !line.startsWith('npm '))
    .map((line) => line.slice(line.indexOf('mongo-live-migrate ') + 'mongo-live-migrate '.length).split(/\s+/));
}

// Issue 15: the Atlas and Troubleshooting sections give the exact command to run; they must parse.
describe('README commands', () => {
  it('has the Atlas and Troubleshooting sections', () => {
    expect(readme).toMatch(/^## MongoDB Atlas$/m);
    expect(readme).toMatch(/^## Troubleshooting$/m);
    for (const topic of ['static IP', 'private endpoint', 'access list', 'mongodb+srv', 'authSource', 'M0', 'Flex', 'mongosync', 'Live Migration']) expect(readme, topic).toContain(topic);
    for (const symptom of ['being driven by another runner', 'no longer in the source oplog', 'still write-blocked', 'verification found', 'lost the connection']) expect(readme, symptom).toContain(symptom);
  });

  it('every documented invocation is one the CLI accepts', () => {
    const invocations = documentedInvocations();
    expect(invocations.length).toBeGreaterThanOrEqual(8);
    for (const argv of invocations) {
      let errors = '';
      const result = parseInvocation(argv, '0.0.0', { writeOut: () => undefined, writeErr: (t) => (errors += t), outColor: false, errColor: false });
      expect(result, `${argv.join(' ')}: ${errors}`).toMatchObject({ kind: 'run' });
    }
  });

  it('never tells users to npx a name they have not installed', () => {
    const code = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).join('\n');
    expect(code).toContain('./node_modules/.bin/mongo-live-migrate validate');
    expect(code).not.toMatch(/npx (?!--no )mongo-live-migrate/);
  });
});

// Generates the table of the action's inputs and outputs from action.yml into README.md between markers.
// `node scripts/action-reference.mjs` rewrites README.md; `--check` exits 1 when README.md is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';

const START = '<!-- action-reference:start (generated from action.yml by npm run docs) -->';
const END = '<!-- action-reference:end -->';

export function renderActionTable(action) {
  const escape = (s) => String(s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ').trim();
  const inputs = Object.entries(action.inputs ?? {}).map(([name, i]) => {
    const how = i.required ? 'required' : i.default === undefined ? '' : `\`${escape(i.default)}\``;
    return `| input | \`${name}\` | ${how} | ${escape(i.description)} |`;
  });
  const outputs = Object.entries(action.outputs ?? {}).map(([name, o]) => `| output | \`${name}\` | | ${escape(o.description)} |`);
  return ['| | name | required / default | description |', '| --- | --- | --- | --- |', ...inputs, ...outputs].join('\n');
}

export function updateReadme(readme, actionYmlText) {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < 0) throw new Error('README.md lacks the action-reference markers');
  return `${readme.slice(0, start)}${START}\n${renderActionTable(parse(actionYmlText))}\n${readme.slice(end)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const readme = readFileSync('README.md', 'utf8');
  const next = updateReadme(readme, readFileSync('action.yml', 'utf8'));
  if (process.argv.includes('--check')) {
    if (next !== readme) { console.error('README.md action reference is stale: run npm run docs'); process.exit(1); }
  } else writeFileSync('README.md', next);
}

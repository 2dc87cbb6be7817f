// Structure figures of src/ at a git revision (default: the working tree), for the issue-10 before/after table:
// imports from src/commands into src/engine, type assertions (`as`, not `as const`), non-null assertions (`!`),
// and files over 300 lines. Usage: node scripts/structure-metrics.mjs [REV]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const rev = process.argv[2];
const git = (...args) => execFileSync('git', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
const files = (rev ? git('ls-tree', '-r', '--name-only', rev, 'src') : git('ls-files', '--cached', '--others', '--exclude-standard', 'src'))
  .split('\n')
  .filter((f) => f.endsWith('.ts'));
const read = (file) => (rev ? git('show', `${rev}:${file}`) : readFileSync(file, 'utf8'));

let casts = 0;
let nonNull = 0;
const commandImports = [];
const long = [];
for (const file of files) {
  const text = read(file);
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  if (lines > 300) long.push(`${file} (${lines})`);
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if ((ts.isAsExpression(node) || ts.isTypeAssertionExpression(node)) && node.type.getText(source) !== 'const') casts++;
    if (ts.isNonNullExpression(node)) nonNull++;
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && file.startsWith('src/commands/')) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), node.moduleSpecifier.text));
      if (target.startsWith('src/engine/')) commandImports.push(target);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}
const distinct = new Set(commandImports);
console.log(`revision: ${rev ?? 'working tree'}; ${files.length} files in src/`);
console.log(`imports from src/commands into src/engine: ${commandImports.length} import statements, ${distinct.size} engine modules (${[...distinct].map((f) => f.slice('src/engine/'.length)).sort().join(', ')})`);
console.log(`type assertions (as, excluding as const): ${casts}`);
console.log(`non-null assertions (!): ${nonNull}`);
console.log(`files over 300 lines: ${long.length ? long.join(', ') : 'none'}`);

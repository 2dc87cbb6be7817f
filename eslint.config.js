// Lint is part of `npm test`: correctness rules only; formatting is left to the editor.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers' boundaries, as no-restricted-imports patterns. The edges (cli, action, and the demo, which drives
 * commands like an edge) reach the engine only through commands; commands reach it only through its door
 * (src/engine/index.ts); the engine never imports report, cli, action, commands or @actions/*; @actions/* is
 * for src/action only. One rule entry per group of files: a later entry for the same rule replaces an earlier.
 */
const NO_ACTIONS_TOOLKIT = { group: ['@actions/*'], message: 'the GitHub toolkit belongs to src/action only' };
const boundary = (files, patterns, ignores = []) => ({ files, ignores, rules: { 'no-restricted-imports': ['error', { patterns }] } });
const BOUNDARY_RULES = [
  boundary(['src/**/*.ts'], [NO_ACTIONS_TOOLKIT], ['src/action/**']),
  boundary(['src/engine/**/*.ts'], [
    NO_ACTIONS_TOOLKIT,
    { regex: '^(\\.\\./)+(report|cli|action|commands)(/|$)', message: 'the engine never imports report, cli, action or commands: the shared model is src/model.ts' },
  ]),
  boundary(['src/commands/**/*.ts'], [
    NO_ACTIONS_TOOLKIT,
    { regex: '^\\.\\./engine/(?!index\\.js$)', message: 'commands reach the engine through its door: import from ../engine/index.js' },
  ]),
  boundary(['src/cli/**/*.ts', 'src/demo/**/*.ts'], [
    NO_ACTIONS_TOOLKIT,
    { regex: '^\\.\\./engine(/|$)', message: 'the edges reach the engine through commands (src/commands/index.ts)' },
  ]),
  boundary(['src/action/**/*.ts'], [{ regex: '^\\.\\./engine(/|$)', message: 'the edges reach the engine through commands (src/commands/index.ts)' }]),
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', fetch: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', structuredClone: 'readonly', queueMicrotask: 'readonly', setImmediate: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  // Boundaries (see BOUNDARY_RULES below): a violation fails lint, and so `npm test`.
  ...BOUNDARY_RULES,
  // The terminal edge, scripts, benches and the test harness talk to stdout on purpose.
  { files: ['src/cli/**', 'scripts/**', 'bench/**', 'test/**'], rules: { 'no-console': 'off' } },
);

/**
 * How a test starts the real CLI in a child process: the bundle scripts/test.sh builds from this very source
 * (MLM_TEST_CLI; it starts in a quarter of the time and a fifth of the CPU, and the suite starts hundreds of
 * runners), or the source through tsx when vitest is run directly.
 */
export function cliCommand(): string[] {
  const bundle = process.env.MLM_TEST_CLI;
  return bundle ? [bundle] : ['--import', 'tsx', 'src/cli/bin.ts'];
}

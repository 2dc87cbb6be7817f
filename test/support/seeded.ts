/**
 * A seeded test's body that names its seed twice: when it starts (the log) and in its failure message, which is
 * the part of a long CI log that summaries keep. Without the second, a failure seen only in a summary could not be
 * run again.
 */
export function seeded(label: string, seed: number, variable = 'MLM_SEED'): <T>(body: () => Promise<T>) => () => Promise<T> {
  const rerun = `seed=${seed} (rerun with ${variable}=${seed})`;
  return (body) => async () => {
    console.log(`[${label}] ${rerun}`);
    try {
      return await body();
    } catch (error) {
      if (error instanceof Error) error.message = `[${label}] ${rerun}: ${error.message}`;
      throw error;
    }
  };
}

/** One problem in a configuration file, located for editors, terminals and GitHub annotations. */
export interface ConfigProblem {
  file: string;
  line: number;
  column: number;
  /** JSON pointer of the offending value ("" for the document). */
  pointer: string;
  message: string;
}

/** A user mistake in migration.yaml: reported as a list of located problems, exit code 2, no stack. */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.pointer ? ` (at ${p.pointer})` : '';
  return `${p.file}:${p.line}:${p.column}: ${p.message}${where}`;
}

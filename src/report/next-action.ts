import type { CommandOutcome } from '../model.js';

export interface NextActionContext {
  /** Path of migration.yaml relative to the repository root: the `migration` input of the example workflows. */
  configPath: string;
  /** File names of the workflows that run the migration's steps (see examples/workflows). */
  runWorkflow: string;
  cutoverWorkflow: string;
  /** The workflow that runs `abort` in a reviewed environment (default migration-abort.yml). */
  abortWorkflow?: string;
}

/**
 * The exact next action. With workflow names it says which workflow to run with which inputs (and the `gh`
 * line that does it); without, the CLI command.
 */
export function nextAction(outcome: CommandOutcome, ctx: { migration: string; next?: NextActionContext }): string {
  const p = outcome.progress;
  // Every line names every input its workflow requires: GitHub refuses a dispatch that lacks one.
  const run = (command: string): string => {
    if (command === 'cutover') return cutoverLine();
    if (command === 'abort') return abortLine(false);
    if (!ctx.next) return `run \`mongo-live-migrate ${command} --config <file>\`.`;
    const { runWorkflow, configPath } = ctx.next;
    return `run the workflow \`${runWorkflow}\` with \`migration: ${configPath}\` and \`command: ${command}\` (\`gh workflow run ${runWorkflow} -f migration=${configPath} -f command=${command}\`).`;
  };
  const cutoverLine = (): string => {
    if (!ctx.next) return `run \`mongo-live-migrate cutover --config <file> --confirm ${ctx.migration}\`.`;
    const { cutoverWorkflow, configPath } = ctx.next;
    return `run the workflow \`${cutoverWorkflow}\` with \`migration: ${configPath}\` and \`confirm: ${ctx.migration}\` (\`gh workflow run ${cutoverWorkflow} -f migration=${configPath} -f confirm=${ctx.migration}\`); a reviewer of its environment approves it.`;
  };
  const abortLine = (drop: boolean): string => {
    if (!ctx.next) return `run \`mongo-live-migrate abort --config <file>${drop ? ' --drop-destination' : ''} --confirm ${ctx.migration}\`.`;
    const { abortWorkflow = 'migration-abort.yml', configPath } = ctx.next;
    return `run the workflow \`${abortWorkflow}\` with \`migration: ${configPath}\`, \`confirm: ${ctx.migration}\`${drop ? ' and `drop-destination: true`' : ''} (\`gh workflow run ${abortWorkflow} -f migration=${configPath} -f confirm=${ctx.migration}${drop ? ' -f drop-destination=true' : ''}\`); a reviewer of its environment approves it.`;
  };
  const cutover = (): string => `ready for cutover: ${cutoverLine()} Tail slices keep running until the cutover takes over.`;
  if (outcome.exitCode === 2) return 'fix the configuration problems listed here and push; this report updates on every run.';
  if (outcome.command === 'validate' || outcome.command === 'plan') {
    if (outcome.exitCode !== 0) return 'resolve the failing checks (each row says how), then push again.';
    return `once this change is merged, start the copy: ${run('sync')}`;
  }
  if (p?.phase === 'committed') return 'the migration is committed: point the applications at the destination. To compare both sides again, ' + run('verify');
  if (p?.phase === 'aborted') return `the migration was aborted and the source takes writes. To start again, ${run('sync')}`;
  if (p?.phase === 'failed' && /re-sync/i.test(`${p.error ?? ''} ${outcome.summary}`)) return `the saved position is gone: start again from an empty destination: ${abortLine(true)} Then ${run('sync')}`;
  if (outcome.exitCode !== 0 || p?.phase === 'failed') {
    const resume = `read the error above and fix its cause, then resume: ${run(outcome.command === 'status' ? 'sync' : outcome.command)}`;
    return p?.phase === 'cutting-over' ? `${resume} To go back instead (lifts the source write block): ${abortLine(false)}` : resume;
  }
  if (outcome.running) return 'nothing to do while this step runs: this report updates every few minutes and when it ends.';
  // A tail slice that handed over (or found the cutover at work) asks for no more slices: the cutover runs.
  if (outcome.command === 'tail' && outcome.continue === false && outcome.exitCode === 0 && (p?.phase === 'tailing' || p?.phase === 'cutting-over')) {
    return 'nothing to do: the cutover has taken over from the tail slices; this report follows it.';
  }
  // Ready comes first: slices go on (continue) while the cutover waits for its approval.
  if (p?.readyForCutover && outcome.exitCode === 0) return cutover();
  if (outcome.continue) {
    const command = p?.phase === 'syncing' || (outcome.command === 'sync' && p?.phase !== 'tailing') ? 'sync' : 'tail';
    return `nothing to do: the workflow dispatches the next \`${command}\` slice itself. If it stopped, ${run(command)}`;
  }
  if (p?.phase === 'tailing') return `keep tailing until the lag holds under the cutover threshold: ${run('tail')}`;
  if (p?.phase === 'syncing') return `the copy is not finished: ${run('sync')}`;
  if (outcome.nextStep) return `\`${outcome.nextStep}\``;
  return `${run('status')}`;
}

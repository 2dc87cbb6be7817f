import { closeCheckContext, openCheckContext, type ContextOptions } from '../checks/context.js';
import { runChecks } from '../checks/registry.js';
import type { Config } from '../config/types.js';
import { plural } from '../format.js';
import type { CheckResult, CommandOutcome } from '../model.js';
import type { CommandImpl } from './types.js';

/** Every pre-migration check against both sides; exit 1 when any fails. Writes nothing anywhere. */
export const runValidate: CommandImpl = (config) => validate(config);

export async function validate(config: Config, options: ContextOptions = {}): Promise<CommandOutcome> {
  const context = await openCheckContext(config, options);
  let checks: CheckResult[];
  try {
    checks = [{ id: 'config.schema', title: 'Configuration', status: 'pass', message: `${config.file} is valid` }, ...(await runChecks(context))];
  } finally {
    await closeCheckContext(context);
  }
  const failed = checks.filter((c) => c.status === 'fail').length;
  const warned = checks.filter((c) => c.status === 'warn').length;
  const skipped = checks.filter((c) => c.status === 'skip').length;
  const also = [warned ? plural(warned, 'warning') : '', skipped ? `${plural(skipped, 'check')} not run` : ''].filter(Boolean).join(', ');
  return {
    command: 'validate',
    // A skipped check is not a pass: without the side it needs, nothing was shown to be ready.
    exitCode: failed || skipped ? 1 : 0,
    summary: failed
      ? `migration "${config.name}": ${plural(failed, 'check')} failed${also ? `, ${also}` : ''}: fix the failures and run validate again`
      : `migration "${config.name}" is ready to sync${also ? ` (${also})` : ''}`,
    checks,
    ...(failed || skipped ? {} : { nextStep: `mongo-live-migrate plan --config ${config.file}` }),
  };
}

import { closeCheckContext, openCheckContext, type ContextOptions } from '../checks/context.js';
import { runChecks } from '../checks/registry.js';
import type { Config } from '../config/types.js';
import type { CheckResult, CommandOutcome } from '../report/model.js';
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
  return {
    command: 'validate',
    exitCode: failed ? 1 : 0,
    summary: failed
      ? `migration "${config.name}": ${failed} check${failed === 1 ? '' : 's'} failed, ${warned} warning${warned === 1 ? '' : 's'}: fix the failures and run validate again`
      : `migration "${config.name}" is ready to sync${warned ? ` (${warned} warning${warned === 1 ? '' : 's'})` : ''}`,
    checks,
    ...(failed ? {} : { nextStep: `mongo-live-migrate plan --config ${config.file}` }),
  };
}

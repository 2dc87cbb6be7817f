import { expect } from 'vitest';
import { runStatus } from '../../src/commands/status.js';
import { runTail } from '../../src/commands/tail.js';
import type { Config } from '../../src/config/types.js';
import type { CommandOutcome } from '../../src/report/model.js';
import { testPorts } from './engine.js';

/**
 * Runs tail slices of 3 s in this process until status says what `until` wants, at most `slices` of them (continuous
 * verification needs a few slices to confirm a difference), and returns the last status. `label` names the ports' logs.
 */
export async function tailUntil(config: Config, until: (status: CommandOutcome) => boolean, slices: number, label: string): Promise<CommandOutcome> {
  let status = await runStatus(config, {}, testPorts(`${label}-status`));
  for (let i = 0; i < slices && !until(status); i++) {
    expect((await runTail(config, { maxDurationMs: 3000, forceTakeover: true }, testPorts(`${label}-tail`))).exitCode).toBe(0);
    status = await runStatus(config, {}, testPorts(`${label}-status`));
  }
  return status;
}

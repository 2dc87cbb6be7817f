import { UserError } from '../../errors.js';
import type { Command } from '../context.js';

/** A command that is on the roadmap but not built: it says so and exits 2 instead of pretending. */
export function notBuilt(name: string, summary: string): Command {
  return {
    name,
    summary: `${summary} (not built yet)`,
    async run() {
      throw new UserError(`the ${name} command is not built yet in this version of mongo-live-migrate`);
    },
  };
}

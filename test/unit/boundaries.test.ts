import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The layer boundaries live in eslint.config.js as no-restricted-imports rules; these samples prove they fire
// (and stay quiet on what is allowed), so a violation fails `npm test` through lint.
const eslint = new ESLint({ cwd: process.cwd() });

async function restrictedImports(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\nexport {};\n`, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

// Loading the config and the TypeScript parser takes seconds on a busy machine.
describe('layer boundaries (eslint no-restricted-imports)', { timeout: 60_000 }, () => {
  it('the engine never imports report, cli, action, commands or the GitHub toolkit', async () => {
    expect(await restrictedImports('src/engine/sample.ts', "import type { Progress } from '../report/model.js';")).toHaveLength(1);
    expect(await restrictedImports('src/engine/copy/sample.ts', "import { runSync } from '../../commands/sync.js';")).toHaveLength(1);
    expect(await restrictedImports('src/engine/sample.ts', "import { renderText } from '../report/text.js';")).toHaveLength(1);
    expect(await restrictedImports('src/engine/sample.ts', "import * as core from '@actions/core';")).toHaveLength(1);
    expect(await restrictedImports('src/engine/sample.ts', "import type { Progress } from '../model.js';")).toEqual([]);
  });

  it('commands reach the engine through its door only', async () => {
    const [message] = await restrictedImports('src/commands/sample.ts', "import { openRun } from '../engine/run.js';");
    expect(message).toContain('../engine/index.js');
    expect(await restrictedImports('src/commands/sample.ts', "import { syncSlice } from '../engine/index.js';")).toEqual([]);
  });

  it('the edges reach the engine through commands, and only src/action uses @actions/*', async () => {
    expect(await restrictedImports('src/cli/sample.ts', "import { syncSlice } from '../engine/index.js';")).toHaveLength(1);
    expect(await restrictedImports('src/action/sample.ts', "import { openRun } from '../engine/run.js';")).toHaveLength(1);
    expect(await restrictedImports('src/cli/sample.ts', "import * as core from '@actions/core';")).toHaveLength(1);
    expect(await restrictedImports('src/action/sample.ts', "import * as core from '@actions/core';")).toEqual([]);
    expect(await restrictedImports('src/cli/sample.ts', "import { commandImpl } from '../commands/index.js';")).toEqual([]);
  });
});

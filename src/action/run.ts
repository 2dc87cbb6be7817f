import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandImpl, settingsFromEnvironment, type CommandOptions } from '../commands/index.js';
import { loadConfigFile, type Config } from '../config/index.js';
import { classifyError, errorMessage } from '../errors.js';
import { createLogger } from '../log.js';
import { scrub } from '../redact.js';
import { commentMarker, renderMarkdown, type MarkdownContext } from '../report/markdown.js';
import type { CommandOutcome, Progress } from '../model.js';
import { renderProgressLine } from '../report/text.js';
import { annotateConfigProblems, configErrorOutcome, readMigrationName, repoPath } from './annotations.js';
import { upsertStickyComment } from './comment.js';
import { nullGitHub, octokitGitHub, type GitHubApi } from './github.js';
import { readActionInput, readInputs, readToken, type ActionInputs, type InputReader } from './inputs.js';
import { coreIO, type ActionIO } from './io.js';
import { LiveReport } from './live-report.js';
import { computeOutputs, OUTPUT_NAMES } from './outputs.js';
import { resolvePullRequest, type EventPayload } from './pull-request.js';
import { readEventPayload } from './event.js';
import { maskEnvironmentUris, maskToken, maskUri } from './secrets.js';

/** What the action talks to; the defaults are the real runner. Tests replace pieces. */
export interface RunDependencies {
  env: NodeJS.ProcessEnv;
  io: ActionIO;
  readInput: InputReader;
  github: (token: string, repo: { owner: string; repo: string }) => GitHubApi;
  /** Aborted when the runner cancels the job: long commands save their position and return. */
  signal: AbortSignal;
}

/** Progress goes to the log at most this often (a slice lasts hours; the log should stay readable). */
const PROGRESS_LOG_INTERVAL_MS = 30_000;

/**
 * One step of a migration, as the GitHub Action runs it: inputs → the same command the CLI runs → outputs,
 * job summary, sticky PR comment, annotations. Returns the exit code it reported; never throws.
 */
export async function run(deps: Partial<RunDependencies> = {}): Promise<number> {
  const env = deps.env ?? process.env;
  const io = deps.io ?? coreIO;
  const read = deps.readInput ?? readActionInput;
  const cancel = deps.signal ? undefined : cancelOnSignals();
  try {
    // Secrets first: nothing below may print before the runner knows to mask them.
    maskToken(io, readToken(read));
    maskEnvironmentUris(io, env);
    let inputs: ActionInputs;
    try {
      inputs = readInputs(read);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      io.setFailed(message);
      await writeSummary(io, `### ❌ mongo-live-migrate\n\n${message}\n`);
      return 2;
    }
    return await step(inputs, env, io, deps.github ?? octokitGitHub, deps.signal ?? cancel?.signal ?? new AbortController().signal);
  } catch (error) {
    // A bug in the action itself: a failed step with the message, the stack only in the debug log.
    const err = error instanceof Error ? error : new Error(String(error));
    io.debug(err.stack ?? err.message);
    io.setFailed(`mongo-live-migrate failed unexpectedly: ${err.message}`);
    return 1;
  } finally {
    cancel?.dispose();
  }
}

async function step(inputs: ActionInputs, env: NodeJS.ProcessEnv, io: ActionIO, makeGitHub: RunDependencies['github'], signal: AbortSignal): Promise<number> {
  const workspace = env.GITHUB_WORKSPACE || process.cwd();
  const configPath = repoPath(inputs.config, workspace);
  const repo = parseRepository(env.GITHUB_REPOSITORY);
  const log = createLogger({ level: inputs.logLevel, pretty: true, destination: process.stdout });

  let config: Config | undefined;
  let outcome: CommandOutcome;
  const api = inputs.githubToken && repo ? makeGitHub(inputs.githubToken, repo) : nullGitHub;
  let pr: number | undefined;
  let prKnown = false;
  const pullRequest = async (): Promise<number | undefined> => {
    if (!prKnown) pr = await findPullRequest(api, inputs, configPath, env, io);
    prKnown = true;
    return pr;
  };
  const report = (migration: string | undefined, final: boolean): Reporter => ({
    io,
    api,
    pr,
    migration,
    final,
    wantsComment: inputs.comment && (config?.report.pullRequestComment ?? true),
    context: {
      migration: migration ?? configPath,
      next: { configPath, runWorkflow: inputs.runWorkflow, cutoverWorkflow: inputs.cutoverWorkflow, abortWorkflow: inputs.abortWorkflow },
      runUrl: runUrl(env),
      updatedAt: new Date().toISOString(),
      maxLagSeconds: config?.cutover.maxLagSeconds,
    },
  });
  let live: LiveReport | undefined;
  try {
    config = loadConfigFile(inputs.config, { env });
    const loaded = config;
    maskUri(io, config.source.uri);
    maskUri(io, config.destination.uri);
    const impl = commandImpl(inputs.command);
    io.info(`mongo-live-migrate ${inputs.command}: migration "${config.name}" (${configPath})`);
    if (LONG_COMMANDS.has(inputs.command)) {
      // The PR shows "running since" at once, then fresh progress during the hours a slice lasts.
      await pullRequest();
      live = new LiveReport(inputs.command, new Date(), liveReportIntervalMs(env), (running) => publish(running, report(loaded.name, false)));
      live.start();
    }
    const logProgress = progressLogger(io);
    const onProgress = (p: Progress): void => {
      logProgress(p);
      live?.progress(p);
    };
    outcome = await impl(config, commandOptions(inputs), { log, signal, runner: runnerName(env), onProgress, settings: settingsFromEnvironment(env) });
  } catch (error) {
    outcome = errorOutcome(error, inputs.command, io, workspace);
  }
  await live?.settle();
  const migration = config?.name ?? readMigrationName(inputs.config);

  await pullRequest();
  const reportPath = writeReport(outcome, migration ?? 'unnamed', inputs.command, env);
  const outputs = computeOutputs(outcome, { migration: migration ?? '', reportPath, pullRequest: pr });
  for (const name of OUTPUT_NAMES) io.setOutput(name, outputs[name]);
  await publish(outcome, report(migration, true));
  if (inputs.comment && (config?.report.pullRequestComment ?? true) && !pr) io.info('no pull request to comment on: the report is in the job summary');

  io.info(outcome.summary);
  if (outcome.exitCode !== 0) io.setFailed(failureMessage(outcome));
  return outcome.exitCode;
}

/** Steps that run long enough for a "running since" report and live updates. */
const LONG_COMMANDS = new Set(['sync', 'tail', 'cutover', 'verify', 'rehearse']);

/** Every few minutes (GitHub rate limits; a slice lasts hours); MLM_LIVE_REPORT_MS shortens it in tests. */
function liveReportIntervalMs(env: NodeJS.ProcessEnv): number {
  const fromEnv = Number(env.MLM_LIVE_REPORT_MS);
  return Number.isInteger(fromEnv) && fromEnv >= 1000 ? fromEnv : 3 * 60_000;
}

interface Reporter {
  io: ActionIO;
  api: GitHubApi;
  pr: number | undefined;
  migration: string | undefined;
  /** The step's outcome (false: a live report of a running step). */
  final: boolean;
  wantsComment: boolean;
  context: Omit<MarkdownContext, 'target'>;
}

/** Writes the job summary and the sticky comment from one outcome; failures only warn (the step stands on its own). */
async function publish(outcome: CommandOutcome, r: Reporter): Promise<void> {
  const summary = renderMarkdown(outcome, { ...r.context, target: 'summary' });
  // A live report replaces the previous one; the final one replaces the live one (or is the only one).
  await writeSummary(r.io, summary, r.io.replaceSummary !== undefined);
  if (!r.wantsComment || !r.pr || !r.migration || r.api === nullGitHub) return;
  try {
    const body = scrub(renderMarkdown(outcome, { ...r.context, target: 'comment' }));
    const result = await upsertStickyComment(r.api, r.pr, commentMarker(r.migration), body);
    if (r.final) r.io.info(`pull request #${r.pr}: comment ${result.id} ${result.action}`);
  } catch (error) {
    // The migration step itself worked or failed on its own; a comment that could not be written only warns.
    if (r.final) r.io.warning(`could not write the pull request comment on #${r.pr}: ${errorMessage(error)} (the job needs \`permissions: pull-requests: write\`)`);
    else r.io.debug(`live report not written on #${r.pr}: ${errorMessage(error)}`);
  }
}

function commandOptions(inputs: ActionInputs): CommandOptions {
  return {
    confirm: inputs.confirm,
    maxDurationMs: inputs.maxDurationMs,
    applicationsStopped: inputs.applicationsStopped,
    dropDestination: inputs.dropDestination,
    forceTakeover: inputs.forceTakeover,
    keep: inputs.keep,
  };
}

/** The same mapping as the CLI edge (classifyError): user mistakes and failed operations are messages, not stack traces. */
function errorOutcome(error: unknown, command: string, io: ActionIO, workspace: string): CommandOutcome {
  const classified = classifyError(error);
  switch (classified.kind) {
    case 'configuration':
      annotateConfigProblems(io, classified.problems, workspace);
      return configErrorOutcome(command, classified.problems, workspace);
    case 'usage':
    case 'operation':
      return { command, exitCode: classified.exitCode, summary: `${classified.message}${classified.hint ? ` (hint: ${classified.hint})` : ''}` };
    case 'unexpected':
      io.debug(classified.error.stack ?? classified.error.message);
      return { command, exitCode: classified.exitCode, summary: `unexpected error: ${classified.error.message} (re-run with debug logging for the stack trace)` };
  }
}

function failureMessage(outcome: CommandOutcome): string {
  const failing = (outcome.checks ?? []).filter((c) => c.status === 'fail').map((c) => `- ${c.message}`);
  return [outcome.summary, ...failing.slice(0, 20)].join('\n');
}

async function findPullRequest(api: GitHubApi, inputs: ActionInputs, configPath: string, env: NodeJS.ProcessEnv, io: ActionIO): Promise<number | undefined> {
  try {
    const payload: EventPayload = readEventPayload(env.GITHUB_EVENT_PATH);
    const found = await resolvePullRequest(api, { eventName: env.GITHUB_EVENT_NAME ?? '', payload, input: inputs.pullRequest, configPath, sha: env.GITHUB_SHA });
    if (found) io.info(`reporting to pull request #${found.number} (from the ${found.how})`);
    return found?.number;
  } catch (error) {
    io.warning(`could not find the pull request to report to: ${errorMessage(error)}`);
    return undefined;
  }
}

/** The whole outcome as JSON, scrubbed, for later steps (upload-artifact, jq). */
function writeReport(outcome: CommandOutcome, migration: string, command: string, env: NodeJS.ProcessEnv): string {
  const dir = join(env.RUNNER_TEMP || tmpdir(), 'mongo-live-migrate');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${migration}-${command}-${env.GITHUB_RUN_ID ?? 'local'}-${env.GITHUB_RUN_ATTEMPT ?? '1'}.json`);
  writeFileSync(file, scrub(JSON.stringify(outcome, null, 2)) + '\n');
  return file;
}

async function writeSummary(io: ActionIO, markdown: string, replace = false): Promise<void> {
  try {
    if (replace && io.replaceSummary) await io.replaceSummary(markdown);
    else await io.appendSummary(markdown);
  } catch (error) {
    io.warning(`could not write the job summary: ${errorMessage(error)}`);
  }
}

function progressLogger(io: ActionIO): (p: Progress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < PROGRESS_LOG_INTERVAL_MS) return;
    last = now;
    io.info(renderProgressLine(p));
  };
}

function parseRepository(value: string | undefined): { owner: string; repo: string } | undefined {
  const [owner, repo, extra] = (value ?? '').split('/');
  return owner && repo && extra === undefined ? { owner, repo } : undefined;
}

/** Who holds the lease and wrote each history entry: the GitHub run. */
function runnerName(env: NodeJS.ProcessEnv): string {
  return `${env.GITHUB_REPOSITORY ?? 'unknown/unknown'} run ${env.GITHUB_RUN_ID ?? '?'} attempt ${env.GITHUB_RUN_ATTEMPT ?? '1'}`;
}

function runUrl(env: NodeJS.ProcessEnv): string | undefined {
  if (!env.GITHUB_REPOSITORY || !env.GITHUB_RUN_ID) return undefined;
  const attempt = env.GITHUB_RUN_ATTEMPT && env.GITHUB_RUN_ATTEMPT !== '1' ? `/attempts/${env.GITHUB_RUN_ATTEMPT}` : '';
  return `${env.GITHUB_SERVER_URL || 'https://github.com'}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}${attempt}`;
}

/** The runner cancels a job with SIGINT, then SIGTERM: both abort the command, which saves its position. */
function cancelOnSignals(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', abort);
      process.off('SIGTERM', abort);
    },
  };
}

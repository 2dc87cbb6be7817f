import picocolors from 'picocolors';
import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatDuration, plural } from '../../src/format.js';
import { renderChecksMarkdown, renderChecksText } from '../../src/report/checks-render.js';
import { clientOptions, connectError } from '../../src/mongo/connect.js';
import { VERSION } from '../../src/version.js';
import { colorEnabled } from '../../src/report/colors.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import type { CheckResult, CommandOutcome } from '../../src/model.js';
import { renderProgressLine, renderText } from '../../src/report/text.js';
import { renderVerifyMarkdown } from '../../src/report/verify-render.js';
import { tailingProgress } from './report-fixtures.js';

// Issue 15: one formatting of numbers everywhere, skipped checks as skipped, colour on request only.
describe('src/format.ts', () => {
  it('IEC bytes, separated counts, durations and plurals', () => {
    expect([formatBytes(0), formatBytes(1536), formatBytes(50 * 1024 ** 2), formatBytes(697 * 1024 ** 3), formatBytes(-1)]).toEqual(['0 B', '1.5 KiB', '50 MiB', '697 GiB', '?']);
    expect([formatCount(1234567), formatCount(12.345), formatCount(0)]).toEqual(['1,234,567', '12.3', '0']);
    expect([formatDuration(0.04), formatDuration(42.5), formatDuration(125), formatDuration(3725), formatDuration(200_000)]).toEqual(['0s', '42.5s', '2m 5s', '1h 2m', '2d 7h']);
    expect([plural(1, 'warning'), plural(4, 'collection'), plural(1200, 'document'), plural(2, 'index', 'indexes')]).toEqual(['1 warning', '4 collections', '1,200 documents', '2 indexes']);
  });
});

describe('checks with an unreachable source', () => {
  const unreachable: CheckResult[] = [
    { id: 'source.connection', title: 't', status: 'fail', message: 'cannot connect to the source', remedy: 'check the host' },
    { id: 'destination.connection', title: 't', status: 'pass', message: 'connected' },
    { id: 'source.transport', title: 't', status: 'warn', message: 'clear text', remedy: 'use TLS' },
    ...Array.from({ length: 18 }, (_, i): CheckResult => ({ id: `check.${i}`, title: 't', status: 'skip', message: 'not run: the source is not reachable', remedy: 'fix source.connection first' })),
  ];

  it('lists the failure first and summarises skipped checks in one line, not as warnings', () => {
    const text = renderChecksText(unreachable);
    expect(text[1]).toMatch(/^FAIL {2}source\.connection/);
    expect(text[3]).toMatch(/^warn {2}source\.transport/);
    expect(text.filter((l) => /check\.\d+/.test(l)).length).toBeLessThanOrEqual(2);
    expect(text.join('\n')).toMatch(/^skip {2}18 checks not run: the source is not reachable \(check\.0, check\.1,/m);
    expect(text.at(-1)).toBe('21 checks: 1 failed, 1 warning, 1 passed, 18 skipped');
    const md = renderChecksMarkdown(unreachable);
    expect(md.split('\n').filter((l) => l.startsWith('| ') && l.includes('check.')).length).toBe(0);
    expect(md).toContain('⏭️ 18 checks not run: the source is not reachable');
    expect(md.indexOf('source.connection')).toBeLessThan(md.indexOf('source.transport'));
  });

  it('colours status words only when asked', () => {
    const colors = picocolors.createColors(true);
    const text = renderChecksText(unreachable, { colors }).join('\n');
    expect(text).toContain(colors.bold(colors.red('FAIL')));
    expect(text).toContain(colors.yellow('warn'));
    expect(text).toContain(colors.green('ok  '));
    expect(renderChecksText(unreachable).join('\n')).not.toContain('\x1b[');
  });

  it('decides colour per stream by NO_COLOR, FORCE_COLOR and the terminal', () => {
    expect(colorEnabled({ isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ isTTY: false }, {})).toBe(false);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(colorEnabled({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    expect(colorEnabled({ isTTY: true }, { FORCE_COLOR: '0' })).toBe(false);
    expect(colorEnabled({ isTTY: false }, { FORCE_COLOR: '1', NO_COLOR: '1' })).toBe(false);
  });
});

describe('phases in colour', () => {
  it('colours the phase of the progress line and READY, only when asked', () => {
    const colors = picocolors.createColors(true);
    const ready = { ...tailingProgress(), readyForCutover: true };
    expect(renderProgressLine(ready, colors)).toMatch(new RegExp(`^${colors.yellow('tailing').replace(/\[/g, '\\[')} `));
    expect(renderProgressLine(ready, colors)).toContain(colors.green('READY'));
    expect(renderProgressLine(ready)).not.toContain('\x1b[');
    expect(renderText({ command: 'status', exitCode: 0, summary: 's', progress: { ...ready, phase: 'committed' } }, { colors })).toContain(`phase: ${colors.green('committed')}`);
  });
});

describe('reports after the cutover', () => {
  const committed = (): CommandOutcome => ({
    command: 'cutover',
    exitCode: 0,
    summary: 'cutover of "orders-to-atlas" committed',
    progress: { ...tailingProgress(), phase: 'committed', readyForCutover: false, downtimeSeconds: 1.4 },
  });

  it('do not say "ready for cutover: no" once committed', () => {
    expect(renderText(committed())).not.toMatch(/ready for cutover/);
    expect(renderMarkdown(committed(), { migration: 'orders-to-atlas', target: 'summary' })).not.toMatch(/ready for cutover/);
    expect(renderText({ ...committed(), progress: { ...tailingProgress(), readyForCutover: false } })).toMatch(/ready for cutover: no/);
  });
});

describe('verification table', () => {
  it('escapes a | in a collection name so the table keeps its columns', () => {
    const md = renderVerifyMarkdown({ mode: 'hash', exact: true, collections: [{ source: 'shop.a|b', target: 'shop.a|b', sourceCount: 1200, targetCount: 1200, method: 'count+dbHash', equal: true }], mismatches: [] });
    const row = md.split('\n').find((l) => l.includes('a\\|b'));
    expect(row).toBe('| ✅ | `shop.a\\|b` |  | 1,200/1,200 | count+dbHash |');
    // Unescaped pipes: exactly the 6 column borders.
    expect(row!.replace(/\\\|/g, '').split('|').length - 1).toBe(6);
  });
});

describe('connection failures', () => {
  it('say each cause once, however many servers and levels repeat it', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { reason: { servers: new Map([['a', { error: refused }], ['b', { error: refused }]]) }, cause: refused });
    expect(connectError(error, 'source', 'mongodb://127.0.0.1:1/').message).toBe('cannot connect to the source (mongodb://127.0.0.1:1/): connection refused: connect ECONNREFUSED 127.0.0.1:1 | code ECONNREFUSED');
  });
});

describe('client options', () => {
  it('name the tool and the part of it in the appName, unless the connection string names one', () => {
    expect(clientOptions('mongodb://h/', 1000).appName).toBe(`mongo-live-migrate/${VERSION}`);
    expect(clientOptions('mongodb://h/', 1000, {}, 'verifier').appName).toBe(`mongo-live-migrate/${VERSION} verifier`);
    expect(clientOptions('mongodb://h/?appName=ops', 1000, {}, 'verifier').appName).toBeUndefined();
  });
});

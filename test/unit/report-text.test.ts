import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatSeconds, renderText } from '../../src/report/text.js';
import { tailOutcome } from './report-fixtures.js';

describe('renderText', () => {
  it('an outcome with progress, for a terminal', async () => {
    await expect(renderText(tailOutcome())).toMatchFileSnapshot('__snapshots__/text-tail-ready.txt');
  });
});

describe('formatting', () => {
  it('is locale-free and short', () => {
    expect([formatCount(0), formatCount(999), formatCount(1234567), formatCount(12.345), formatCount(-4200)]).toEqual(['0', '999', '1,234,567', '12.3', '-4,200']);
    expect([formatBytes(0), formatBytes(1536), formatBytes(10 * 1024 ** 2), formatBytes(3.5 * 1024 ** 4)]).toEqual(['0 B', '1.5 KiB', '10 MiB', '3.5 TiB']);
    expect([formatSeconds(0.04), formatSeconds(42.5), formatSeconds(75), formatSeconds(3725), formatSeconds(200_000)]).toEqual(['0s', '42.5s', '1m 15s', '1h 2m', '2d 7h']);
  });
});

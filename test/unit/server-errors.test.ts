import { Int32, MongoError, MongoNetworkError, MongoServerError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { isTransientReadError } from '../../src/engine/copy/copy-partition.js';
import { isNamespaceNotFound, isTransient } from '../../src/mongo/server-errors.js';

const serverError = (code: number | Int32, labels: string[] = []): MongoServerError => {
  const error = new MongoServerError({ ok: 0, errmsg: 'x', code: code as number });
  for (const label of labels) error.addErrorLabel(label);
  return error;
};

describe('isTransient (the one transient classifier of copy, change stream and reconnect)', () => {
  it('retries what the reconnect loop retried: network errors, step-downs, labels, socket codes, wrapped causes', () => {
    expect(isTransient(new MongoNetworkError('cut'))).toBe(true);
    for (const code of [6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436]) expect(isTransient(serverError(code))).toBe(true);
    expect(isTransient(serverError(2, ['TransientTransactionError']))).toBe(true);
    expect(isTransient(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransient(new Error('outer', { cause: new MongoNetworkError('inner') }))).toBe(true);
    expect(isTransient(Object.assign(new MongoError('bulk'), { errorResponse: new MongoNetworkError('inner') }))).toBe(true);
  });

  it('retries what the copy retried: killed or lost cursors, codes as Int32, codes on plain errors', () => {
    for (const code of [43, 175, 237, 262]) expect(isTransient(serverError(code))).toBe(true);
    expect(isTransient(serverError(new Int32(189)))).toBe(true);
    expect(isTransient(Object.assign(new Error('insert refused'), { code: 11602 }))).toBe(true);
    expect(isTransient(serverError(2, ['ResumableChangeStreamError']))).toBe(true);
  });

  it('does not retry what a retry cannot fix', () => {
    expect(isTransient(serverError(11000))).toBe(false);
    expect(isTransient(serverError(13))).toBe(false);
    expect(isTransient(new Error('bug'))).toBe(false);
    expect(isTransient(undefined)).toBe(false);
  });

  it('the copy also reopens after its collection was renamed away (NamespaceNotFound)', () => {
    expect(isNamespaceNotFound(serverError(26))).toBe(true);
    expect(isTransient(serverError(26))).toBe(false);
    expect(isTransientReadError(serverError(26))).toBe(true);
    expect(isTransientReadError(serverError(43))).toBe(true);
  });
});

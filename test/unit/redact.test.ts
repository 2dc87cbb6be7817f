import { afterEach, describe, expect, it } from 'vitest';
import { clearSecrets, redactUri, registerSecret, registerUriSecrets, scrub } from '../../src/redact.js';

describe('redaction', () => {
  afterEach(clearSecrets);

  it('hides the password of any connection string but keeps the user and hosts', () => {
    expect(redactUri('mongodb://alice:p%40ss@db1:27017,db2/?replicaSet=rs0')).toBe('mongodb://alice:****@db1:27017,db2/?replicaSet=rs0');
    expect(scrub('failed to reach mongodb+srv://bob:xyz@cluster0.example.net/app')).toBe('failed to reach mongodb+srv://bob:****@cluster0.example.net/app');
  });

  it('scrubs registered secrets in every encoding they may appear in', () => {
    registerUriSecrets('mongodb://u:pa%24%24word-canary@h/');
    expect(scrub('a pa$$word-canary b')).toBe('a **** b');
    expect(scrub('a pa%24%24word-canary b')).toBe('a **** b');
    registerSecret('with"quote');
    expect(scrub(JSON.stringify({ v: 'with"quote' }))).toBe('{"v":"****"}');
  });

  it('leaves text without secrets alone', () => {
    expect(scrub('mongodb://db1:27017/?replicaSet=rs0')).toBe('mongodb://db1:27017/?replicaSet=rs0');
  });
});

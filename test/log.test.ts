/**
 * Redaction and the stderr logger: the API key must never reach a log line or a redacted value,
 * and a logger writes nothing above its level.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LogLevel } from '../src/config.js';
import { createLogger, makeRedactor, redactedJson, redactValue } from '../src/log.js';

const KEY = 'sk_live_LogSecret_7c1f0a';
/** A configured key that does not look like a FLORA key, so only the exact-value rule can catch it. */
const ODD_KEY = 'flora-custom-Key-1234';

function capture(level: LogLevel, secret: string | undefined = KEY) {
  const lines: string[] = [];
  const log = createLogger(level, makeRedactor(secret), (line) => lines.push(line));
  return { log, lines };
}

describe('makeRedactor', () => {
  it('replaces the configured key wherever it appears', () => {
    const redact = makeRedactor(ODD_KEY);

    const out = redact(`key=${ODD_KEY}; again:${ODD_KEY}${ODD_KEY} end`);

    expect(out).not.toContain(ODD_KEY);
    expect(out).toBe('key=[redacted]; again:[redacted][redacted] end');
  });

  it.each([
    ['a live key', 'sk_live_someoneElse_123'],
    ['a test key', 'sk_test_AbC-def_456'],
  ])('redacts %s that is not the configured one', (_label, token) => {
    const out = makeRedactor(KEY)(`FLORA said: ${token} is invalid`);

    expect(out).toBe('FLORA said: [redacted] is invalid');
  });

  it('redacts a sk_live_ token even with no key configured', () => {
    const out = makeRedactor(undefined)('echo sk_live_abc123XYZ back');

    expect(out).toBe('echo [redacted] back');
  });

  it.each([
    ['header line', 'Authorization: Bearer abc.def-ghi', 'Authorization: Bearer [redacted]'],
    ['JSON string', '{"authorization":"Bearer tok_123"}', '{"authorization":"Bearer [redacted]"}'],
    ['several spaces', 'Bearer   opaque_999, next', 'Bearer   [redacted], next'],
  ])('redacts a bearer token in a %s', (_label, text, expected) => {
    expect(makeRedactor(undefined)(text)).toBe(expected);
  });

  it('redacts a configured key of 4 characters or more, and leaves a shorter one (it would eat ordinary words)', () => {
    expect(makeRedactor('k3y9')('sent k3y9 twice: k3y9')).toBe('sent [redacted] twice: [redacted]');
    expect(makeRedactor('ab')('about abba')).toBe('about abba');
  });

  it('leaves text without secrets untouched', () => {
    const text = 'GET /api/v1/runs/run_abc -> 200 in 12 ms (req_42)';

    expect(makeRedactor(KEY)(text)).toBe(text);
  });
});

describe('redactValue', () => {
  it('redacts strings nested in arrays and objects and keeps everything else', () => {
    const redact = makeRedactor(ODD_KEY);
    const value = {
      note: `the key is ${ODD_KEY}`,
      list: ['plain', `Bearer ${ODD_KEY}`, ['deeper', ODD_KEY]],
      nested: { inner: { token: `x${ODD_KEY}y`, other: 'sk_test_zzz_1' } },
      count: 3,
      ok: true,
      none: null,
    };

    const out = redactValue(value, redact);

    expect(out).toEqual({
      note: 'the key is [redacted]',
      list: ['plain', 'Bearer [redacted]', ['deeper', '[redacted]']],
      nested: { inner: { token: 'x[redacted]y', other: '[redacted]' } },
      count: 3,
      ok: true,
      none: null,
    });
    expect(JSON.stringify(out)).not.toContain(ODD_KEY);
  });

  it('does not modify the value it was given', () => {
    const value = { a: [KEY] };

    redactValue(value, makeRedactor(KEY));

    expect(value.a[0]).toBe(KEY);
  });
});

describe('redactedJson', () => {
  const redact = makeRedactor(ODD_KEY);

  it('a value with nothing to redact is kept as it is (no copy), with its JSON', () => {
    const value = { models: [{ model_id: 'm1', name: 'Flux 2 Pro' }], n: 1 };
    const out = redactedJson(value, redact);
    expect(out.value).toBe(value);
    expect(out.json).toBe('{"models":[{"model_id":"m1","name":"Flux 2 Pro"}],"n":1}');
    // With an escape in its JSON it is checked string by string: an equal copy.
    const quoted = { note: 'plain "quoted" text' };
    expect(redactedJson(quoted, redact)).toEqual({ value: quoted, json: JSON.stringify(quoted) });
  });

  it.each([
    ['in a nested string', { a: { b: [`see ${ODD_KEY}`] } }, { a: { b: ['see [redacted]'] } }],
    ['as an object key', { [ODD_KEY]: 1 }, { '[redacted]': 1 }],
    ['a key shape', { note: 'sk_live_other_9' }, { note: '[redacted]' }],
    // In JSON the tab is the escape \t, which the bearer rule would not see across: redacted anyway.
    ['after a bearer and a tab', { note: 'Bearer\tabc123' }, { note: 'Bearer\t[redacted]' }],
    ['next to an escaped quote', { note: `"${ODD_KEY}"` }, { note: '"[redacted]"' }],
  ])('the key %s is redacted in the value and its JSON, and the original is untouched', (_what, value, redacted) => {
    const before = JSON.stringify(value);
    const out = redactedJson(value, redact);
    expect(out.value).toEqual(redacted);
    expect(out.json).toBe(JSON.stringify(redacted));
    expect(JSON.stringify(value)).toBe(before);
  });
});

describe('createLogger', () => {
  it.each<[LogLevel, string[]]>([
    ['off', []],
    ['error', ['error']],
    ['warn', ['error', 'warn']],
    ['info', ['error', 'warn', 'info']],
    ['debug', ['error', 'warn', 'info', 'debug']],
  ])('at %s writes only %j', (level, written) => {
    const { log, lines } = capture(level);

    log.error('e-msg');
    log.warn('w-msg');
    log.info('i-msg');
    log.debug('d-msg');

    expect(lines.map((l) => / (error|warn|info|debug): /.exec(l)?.[1])).toEqual(written);
    for (const l of lines) expect(l.endsWith('\n')).toBe(true);
  });

  it('writes the message and its data on one line', () => {
    const { log, lines } = capture('info');

    log.info('poll_run ok', { run_id: 'run_1', ms: 12 });

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ info: poll_run ok \{"run_id":"run_1","ms":12\}\n$/);
  });

  it('writes a message without data as the message alone', () => {
    const { log, lines } = capture('info');

    log.info('poll_run ok in 12 ms');

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\S+ flora-mcp info: poll_run ok in 12 ms\n$/);
  });

  it('writes an Error with its stack, so the line says where it failed', () => {
    const { log, lines } = capture('error');
    const err = new Error('catalog parse failed');

    log.error('start_generation_run failed unexpectedly', err);

    expect(err.stack).toContain('log.test.ts');
    expect(lines).toEqual([expect.stringContaining(`failed unexpectedly ${err.stack}\n`)]);
  });

  it('writes an Error without a stack as its message', () => {
    const { log, lines } = capture('error');
    const err = new Error('no stack here');
    err.stack = undefined;

    log.error('boom', err);

    expect(lines).toEqual([expect.stringMatching(/ error: boom no stack here\n$/)]);
  });

  it('never writes the key: not in the message, the data, or an Error', () => {
    const { log, lines } = capture('debug', ODD_KEY);
    const err = new Error(`FLORA rejected ${ODD_KEY}`);

    log.error(`calling with ${ODD_KEY}`);
    log.warn('request', { headers: { Authorization: `Bearer ${ODD_KEY}` }, keys: [ODD_KEY] });
    log.info('failed', err);
    log.debug('raw', ODD_KEY);

    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line).not.toContain(ODD_KEY);
    expect(lines[0]).toContain('calling with [redacted]');
    expect(lines[1]).toContain('"Bearer [redacted]"');
    expect(lines[2]).toContain('FLORA rejected [redacted]');
    expect(lines[3]).toContain('"[redacted]"');
  });

  it('redacts any sk_live_ key in an Error stack', () => {
    const { log, lines } = capture('error', undefined);

    log.error('boom', new Error('upstream echoed sk_live_other_999'));

    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('sk_live_other_999');
    expect(lines[0]).toContain('upstream echoed [redacted]');
  });

  it('at off writes nothing even for errors carrying the key', () => {
    const { log, lines } = capture('off');

    log.error(KEY, new Error(KEY));
    log.warn(KEY, { KEY });

    expect(lines).toEqual([]);
  });
});

describe('the default sink', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('is stderr, never stdout (stdout carries JSON-RPC only)', () => {
    const stderr: string[] = [];
    const stdout: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      stdout.push(String(chunk));
      return true;
    });

    createLogger('warn', makeRedactor(KEY)).warn(`retrying with ${KEY}`);

    expect(stdout).toEqual([]);
    expect(stderr).toEqual([expect.stringMatching(/ warn: retrying with \[redacted\]\n$/)]);
  });
});

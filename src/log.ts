/**
 * Diagnostics go to stderr only (stdout is the JSON-RPC channel). Every line passes through the
 * redactor, so the API key cannot reach a log even when FLORA echoes it back.
 */
import type { LogLevel } from './config.js';

const RANK: Record<LogLevel, number> = { off: 0, error: 1, warn: 2, info: 3, debug: 4 };

export interface Logger {
  error(msg: string, data?: unknown): void;
  warn(msg: string, data?: unknown): void;
  info(msg: string, data?: unknown): void;
  debug(msg: string, data?: unknown): void;
}

const REDACTED = '[redacted]';
/** Anything shaped like a FLORA key or a bearer token, whoever's it is. */
const KEY_SHAPES = /\b(sk_(?:live|test)_[A-Za-z0-9_-]+)|(\bBearer\s+)[^\s"',;\\]+/g;

export type Redactor = (text: string) => string;

export function makeRedactor(secret: string | undefined): Redactor {
  return (text: string) => {
    let out = secret && secret.length >= 4 ? text.split(secret).join(REDACTED) : text;
    out = out.replace(KEY_SHAPES, (_m, key: string | undefined, bearer: string | undefined) =>
      key !== undefined ? REDACTED : `${bearer}${REDACTED}`,
    );
    return out;
  };
}

/** Deep copy with every string redacted, object keys included (FLORA may echo anything back). */
export function redactValue<T>(value: T, redact: Redactor): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, redact)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[redact(k)] = redactValue(v, redact);
    return out as T;
  }
  return value;
}

/**
 * `value` with every string redacted, as redactValue makes it, and its JSON; the copy is made only
 * when something in it needs redacting. Without a backslash the JSON holds every string, object
 * keys included, as it is, between quotes and punctuation, so the redactor finds in it whatever it
 * would find in any of them; with one (an escape could hide a match), each string is redacted on
 * its own.
 */
export function redactedJson<T>(value: T, redact: Redactor): { value: T; json: string } {
  const json = JSON.stringify(value);
  if (!json.includes('\\') && redact(json) === json) return { value, json };
  const copy = redactValue(value, redact);
  return { value: copy, json: JSON.stringify(copy) };
}

export function createLogger(
  level: LogLevel,
  redact: Redactor,
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  const emit = (at: Exclude<LogLevel, 'off'>, msg: string, data?: unknown) => {
    if (RANK[at] > RANK[level]) return;
    let line = `${new Date().toISOString()} flora-mcp ${at}: ${msg}`;
    if (data !== undefined) {
      const detail = data instanceof Error ? (data.stack ?? data.message) : safeJson(data);
      line += ` ${detail}`;
    }
    write(`${redact(line)}\n`);
  };
  return {
    error: (m, d) => emit('error', m, d),
    warn: (m, d) => emit('warn', m, d),
    info: (m, d) => emit('info', m, d),
    debug: (m, d) => emit('debug', m, d),
  };
}

function safeJson(data: unknown): string {
  try {
    return JSON.stringify(data);
  } catch {
    return String(data);
  }
}

export const silentLogger: Logger = { error() {}, warn() {}, info() {}, debug() {} };

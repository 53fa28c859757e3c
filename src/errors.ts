/**
 * Every failure the agent can see is a FloraError: a stable `code` it can branch on, a message
 * that says what to do next, and whether calling again may help. No MCP imports here.
 */

export interface FieldIssue {
  field: string;
  message: string;
}

export interface ErrorPayload {
  code: string;
  message: string;
  status?: number;
  fields?: FieldIssue[];
  retryable: boolean;
  request_id?: string;
  /** The Idempotency-Key a start used, when its outcome is uncertain and a retry must reuse it. */
  idempotency_key?: string;
  /** Seconds FLORA asked us to wait (429). */
  retry_after_seconds?: number;
}

export class FloraError extends Error {
  readonly code: string;
  readonly status: number | undefined;
  readonly fields: FieldIssue[] | undefined;
  readonly retryable: boolean;
  readonly requestId: string | undefined;
  retryAfterSeconds: number | undefined;
  idempotencyKey: string | undefined;

  constructor(
    code: string,
    message: string,
    opts: {
      status?: number;
      fields?: FieldIssue[];
      retryable?: boolean;
      requestId?: string;
      retryAfterSeconds?: number;
      cause?: unknown;
    } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = opts.status;
    this.fields = opts.fields;
    this.retryable = opts.retryable ?? false;
    this.requestId = opts.requestId;
    this.retryAfterSeconds = opts.retryAfterSeconds;
    this.idempotencyKey = undefined;
  }

  toPayload(): ErrorPayload {
    const p: ErrorPayload = { code: this.code, message: this.message, retryable: this.retryable };
    if (this.status !== undefined) p.status = this.status;
    if (this.fields !== undefined && this.fields.length > 0) p.fields = this.fields;
    if (this.requestId !== undefined) p.request_id = this.requestId;
    if (this.idempotencyKey !== undefined) p.idempotency_key = this.idempotencyKey;
    if (this.retryAfterSeconds !== undefined) p.retry_after_seconds = this.retryAfterSeconds;
    return p;
  }
}

/** FLORA answered with its `{error:{code,message,fields}}` envelope; `code` is FLORA's, verbatim. */
export class FloraApiError extends FloraError {}

/** The user's configuration (env) is missing or invalid; nothing was sent. */
export class ConfigurationError extends FloraError {
  constructor(message: string) {
    super('configuration_error', message, { retryable: false });
  }
}

/** The agent's arguments do not fit the tool's schema; nothing was sent. */
export class InvalidArgumentsError extends FloraError {
  constructor(message: string, fields: FieldIssue[]) {
    super('invalid_arguments', message, { retryable: false, fields });
  }
}

/** FLORA did not answer within FLORA_TIMEOUT_MS. */
export class TimeoutError extends FloraError {
  constructor(message: string, cause?: unknown) {
    super('timeout', message, { retryable: true, cause });
  }
}

/** The connection failed (refused, reset, DNS) before a complete answer arrived. */
export class NetworkError extends FloraError {
  constructor(message: string, opts: { retryable?: boolean; cause?: unknown } = {}) {
    super('network_error', message, { retryable: opts.retryable ?? true, cause: opts.cause });
  }
}

/** FLORA (or something in front of it) answered, but not with anything we can read. */
export class UpstreamError extends FloraError {
  constructor(
    message: string,
    opts: { status?: number; retryable?: boolean; requestId?: string; cause?: unknown } = {},
  ) {
    super('upstream_error', message, { retryable: opts.retryable ?? false, ...opts });
  }
}

/**
 * Every failure the agent can see is a FloraError: a stable `code` it can branch on, a message
 * that says what to do next, and whether calling again may help. No MCP imports here.
 *
 * An error is built once, whole, with readonly fields. Where a caller knows more than the place
 * that made the error (a retry loop knows an earlier attempt was lost, and which key it used),
 * `retold` builds a new error of the same class instead of patching the old one.
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

export interface FloraErrorOptions {
  status?: number;
  fields?: FieldIssue[];
  retryable?: boolean;
  requestId?: string;
  /** Seconds FLORA asked us to wait (429, 503). */
  retryAfterSeconds?: number;
  /** The Idempotency-Key a start used, when a retry must reuse it. */
  idempotencyKey?: string;
  cause?: unknown;
}

export class FloraError extends Error {
  readonly code: string;
  readonly status: number | undefined;
  readonly fields: FieldIssue[] | undefined;
  readonly retryable: boolean;
  readonly requestId: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly idempotencyKey: string | undefined;

  constructor(code: string, message: string, opts: FloraErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = opts.status;
    this.fields = opts.fields;
    this.retryable = opts.retryable ?? false;
    this.requestId = opts.requestId;
    this.retryAfterSeconds = opts.retryAfterSeconds;
    this.idempotencyKey = opts.idempotencyKey;
  }

  /** The same failure with a fuller message (and the key a retry must reuse): a new error of the same class. */
  retold(message: string, idempotencyKey: string | undefined = this.idempotencyKey): this {
    const Same = this.constructor as new (code: string, message: string, opts: FloraErrorOptions) => this;
    return new Same(this.code, message, {
      status: this.status,
      fields: this.fields,
      retryable: this.retryable,
      requestId: this.requestId,
      retryAfterSeconds: this.retryAfterSeconds,
      idempotencyKey,
      cause: this.cause,
    });
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

/*
 * The subclasses only say what kind of failure it was (callers branch on `instanceof`); they share
 * FloraError's constructor so `retold` can rebuild any of them. `of` names each one's fixed code.
 */

/** FLORA answered with its `{error:{code,message,fields}}` envelope; `code` is FLORA's, verbatim. */
export class FloraApiError extends FloraError {}

/**
 * A start that reached FLORA but whose answer was lost: a retry was refused as a duplicate, or a
 * 2xx answer could not be read. The run exists; the caller may look it up, never start it again.
 */
export class LostStartError extends FloraApiError {}

/** The user's configuration (env) is missing or invalid; nothing was sent. */
export class ConfigurationError extends FloraError {
  static of(message: string): ConfigurationError {
    return new ConfigurationError('configuration_error', message);
  }
}

/** The agent's arguments do not fit the tool's schema; nothing was sent. */
export class InvalidArgumentsError extends FloraError {
  static of(message: string, fields: FieldIssue[]): InvalidArgumentsError {
    return new InvalidArgumentsError('invalid_arguments', message, { fields });
  }
}

/** The MCP client cancelled the call. */
export class CancelledError extends FloraError {
  static of(message: string, cause?: unknown): CancelledError {
    return new CancelledError('cancelled', message, { cause });
  }
}

/** FLORA did not answer within FLORA_TIMEOUT_MS. */
export class TimeoutError extends FloraError {
  static of(message: string, cause?: unknown): TimeoutError {
    return new TimeoutError('timeout', message, { retryable: true, cause });
  }
}

/** The connection failed (refused, reset, DNS) before a complete answer arrived. */
export class NetworkError extends FloraError {
  static of(message: string, opts: { retryable?: boolean; cause?: unknown } = {}): NetworkError {
    return new NetworkError('network_error', message, { retryable: opts.retryable ?? true, cause: opts.cause });
  }
}

/**
 * A proxy answered 407 Proxy Authentication Required (to a request, or to CONNECT): it wants
 * credentials, which go in the proxy URL. Nothing reached FLORA; retrying cannot help.
 */
export class ProxyAuthError extends FloraError {
  static of(message: string, cause?: unknown): ProxyAuthError {
    return new ProxyAuthError('proxy_auth_required', message, { status: 407, retryable: false, cause });
  }
}

/** FLORA (or something in front of it) answered, but not with anything we can read. */
export class UpstreamError extends FloraError {
  static of(message: string, opts: Omit<FloraErrorOptions, 'fields' | 'idempotencyKey'> = {}): UpstreamError {
    return new UpstreamError('upstream_error', message, { ...opts, retryable: opts.retryable ?? false });
  }
}

/**
 * upload_media will not send this source: a local path over HTTP, outside the client's roots, not
 * a regular file, too large, or not media FLORA accepts. Nothing was read beyond what the check
 * needed, and nothing was sent.
 */
export class SourceRefusedError extends FloraError {
  static of(message: string): SourceRefusedError {
    return new SourceRefusedError('source_refused', message);
  }
}

/** FLORA could not make an asset of the source (`failed`); its failure_message is in the message, verbatim. */
export class AssetFailedError extends FloraError {
  static of(message: string): AssetFailedError {
    return new AssetFailedError('asset_failed', message);
  }
}

/**
 * A start the user's spend limits do not allow: above FLORA_MAX_RUN_USD (or of unknown cost) when
 * the user cannot be asked, or past FLORA_SPEND_LIMIT_USD. Nothing was sent; only the user can
 * change the limits.
 */
export class BudgetExceededError extends FloraError {
  static of(message: string): BudgetExceededError {
    return new BudgetExceededError('budget_exceeded', message, { retryable: false });
  }
}

/** The user was asked to confirm a costly start and did not (declined, cancelled, or no answer). Nothing was sent. */
export class ConfirmationDeclinedError extends FloraError {
  static of(message: string): ConfirmationDeclinedError {
    return new ConfirmationDeclinedError('confirmation_declined', message, { retryable: false });
  }
}

/**
 * preview_media will not fetch or show this media: a URL off FLORA's media hosts (nothing was
 * fetched), a redirect off them (not followed), a download over its size cap, or an image too
 * large to decode.
 */
export class MediaRefusedError extends FloraError {
  static of(message: string): MediaRefusedError {
    return new MediaRefusedError('media_refused', message);
  }
}

/**
 * Reading FLORA's answers: the body (size-capped), Retry-After, the error envelope mapped to a
 * FloraError whose message says what to do next, the success body checked against its schema,
 * and transport failures. The single place where an HTTP outcome becomes an error code.
 */
import type { Readable } from 'node:stream';
import type * as z from 'zod';
import { FloraApiError, NetworkError, ProxyAuthError, UpstreamError, type FloraError } from '../errors.js';
import { bypassFor, NO_PROXY, proxyFor, proxyLabel, type ProxyConfig } from '../proxy.js';
import { ErrorEnvelope } from './schemas.js';

const MAX_BODY_BYTES = 16 * 1024 * 1024;
/** FLORA's own samples wait this long on a 429 without Retry-After. */
const DEFAULT_RATE_LIMIT_WAIT_S = 5;

/**
 * What FloraClient reads of an answer from FLORA's API: a fetch Response is one, and so is what
 * direct-get.ts makes of Node's http answer (without the WHATWG objects it does not need).
 */
export interface ApiResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array> | null;
}

/** How FloraClient sends a request to FLORA's API: fetch, or direct-get.ts for plain GETs. */
export type ApiTransport = (url: URL, init: RequestInit) => Promise<ApiResponse>;

export async function readBody(res: ApiResponse): Promise<string> {
  if (!res.body) return '';
  if (isNodeStream(res.body)) return readNodeStream(res.body, res.status);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) {
      throw UpstreamError.of(`FLORA's answer exceeded ${MAX_BODY_BYTES} bytes and was not read.`, {
        status: res.status,
      });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function isNodeStream(body: ApiResponse['body']): body is Readable {
  return typeof (body as { on?: unknown }).on === 'function';
}

/** readBody for direct-get.ts's bodies, by events: the async iterator costs a call more than the read. */
function readNodeStream(body: Readable, status: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > MAX_BODY_BYTES) {
        body.destroy();
        reject(UpstreamError.of(`FLORA's answer exceeded ${MAX_BODY_BYTES} bytes and was not read.`, { status }));
        return;
      }
      chunks.push(chunk);
    });
    let ended = false;
    body.on('end', () => {
      ended = true;
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    body.on('error', reject);
    // Closed without 'end' or 'error' (an abort can do that): no answer, rather than a hung call.
    body.on('close', () => {
      if (!ended) reject(new Error('the answer ended before it was complete'));
    });
  });
}

function parseRetryAfter(headers: ApiResponse['headers']): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms)) && Number(ms) >= 0) {
    return Number(ms) / 1000;
  }
  const ra = headers.get('retry-after');
  if (ra === null || ra.trim() === '') return undefined;
  const secs = Number(ra);
  if (Number.isFinite(secs) && secs >= 0) return secs;
  const date = Date.parse(ra);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, (date - Date.now()) / 1000);
}

/** What the agent should do next, by FLORA code (or HTTP status for codes we do not know). */
function advice(code: string, status: number, retryAfterSeconds: number | undefined): string {
  switch (code) {
    case 'input_validation_error':
    case 'invalid_json':
      return 'Fix the request (see fields) and call again; this failed call cost nothing.';
    case 'unauthorized':
    case 'invalid_api_key':
      return 'Check FLORA_API_KEY in this server\'s "env" block: the key is missing, malformed, revoked or replaced. Retrying will not help until the user fixes the key.';
    case 'insufficient_credits':
      return 'Stop: the workspace is out of credits. Do not retry; ask the user to top up their FLORA balance.';
    case 'forbidden':
    case 'paid_plan_required':
      return 'The key is valid but not allowed to do this (read-only role, removed from the workspace, or a plan without API access). Retrying will not help; tell the user.';
    case 'not_found':
      return "Check the ID: it does not exist, or this key's workspace cannot see it.";
    case 'idempotency_duplicate':
      return 'FLORA already accepted a request with this idempotency_key in the last 2 hours, and that request started a run. Do not reuse this key; omit idempotency_key (or use a new one) only if the user really wants another, separately billed run.';
    case 'rate_limited':
      return `Wait ${Math.ceil(retryAfterSeconds ?? DEFAULT_RATE_LIMIT_WAIT_S)} s before calling again, and make fewer calls at once.`;
    case 'unknown_error':
      return 'FLORA hit an unclassified server error, often caused by a malformed ws_/prj_ ID. Check the IDs, then retry at most once.';
    default:
      if (status === 429) return `Wait ${Math.ceil(retryAfterSeconds ?? DEFAULT_RATE_LIMIT_WAIT_S)} s before calling again.`;
      if (status >= 500) return 'This is a transient FLORA server problem: wait a few seconds and try again.';
      return "See FLORA's message.";
  }
}

export function errorFromResponse(res: ApiResponse, text: string, requestId: string | undefined): FloraError {
  const retryAfterSeconds = res.status === 429 || res.status === 503 ? parseRetryAfter(res.headers) : undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const env = ErrorEnvelope.safeParse(json);
  if (!env.success) {
    const kind = (res.headers.get('content-type') ?? 'unknown content type').split(';')[0];
    const transient = res.status >= 500 || res.status === 429;
    return UpstreamError.of(
      `FLORA answered HTTP ${res.status} with a body that is not FLORA's JSON error (${kind}, ${text.length} bytes). ${transient ? 'Something between us and FLORA failed; this is usually transient: try again shortly.' : 'Check FLORA_BASE_URL points at the FLORA API.'}`,
      { status: res.status, requestId, retryable: transient, retryAfterSeconds },
    );
  }
  const { code, message, fields } = env.data.error;
  const retryable =
    code === 'rate_limited' || code === 'unknown_error' || (res.status >= 500 && res.status !== 501) || res.status === 429;
  const floraMessage = message && message.trim() !== '' ? message.trim().replace(/\.?$/, '.') : `FLORA returned ${code}.`;
  return new FloraApiError(code, `${floraMessage} ${advice(code, res.status, retryAfterSeconds)}`, {
    status: res.status,
    fields: fields?.map((f) => ({ field: f.field, message: f.message })),
    retryable,
    requestId,
    retryAfterSeconds,
  });
}

export function parseSuccess<T>(text: string, schema: z.ZodType<T>, status: number, requestId: string | undefined): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw UpstreamError.of(`FLORA answered HTTP ${status} but the body is not valid JSON (${text.length} bytes; truncated?).`, {
      status,
      requestId,
      cause,
    });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
      .join('; ');
    throw UpstreamError.of(`FLORA answered HTTP ${status} with an unexpected shape (${where}).`, {
      status,
      requestId,
    });
  }
  return parsed.data;
}

export function networkError(err: unknown, status: number | undefined, base: URL, proxy: ProxyConfig = NO_PROXY): FloraError {
  const failure = proxyFailure(err, base, proxy);
  if (failure) return failure;
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const code = cause?.code ?? (err as { code?: string })?.code ?? 'unknown';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return NetworkError.of(`Could not resolve ${base.hostname} (${code}). Check FLORA_BASE_URL and the machine's network.`, {
      retryable: code === 'EAI_AGAIN',
      cause: err,
    });
  }
  const phase = status === undefined ? 'before FLORA answered' : "while reading FLORA's answer";
  return NetworkError.of(
    `The connection to ${base.host}${viaProxy(base, proxy)} failed ${phase} (${code}). This is usually transient: try again shortly.`,
    { cause: err },
  );
}

/** An error and its causes, outermost first. */
function causeChain(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err; e !== undefined && e !== null && out.length < 6; e = (e as { cause?: unknown }).cause) out.push(e);
  return out;
}

/**
 * True when `err` is fetch's rejection of an answer 407 Proxy Authentication Required. fetch never
 * hands a 407 to its caller (the fetch spec makes it a network error), so it is known by what it
 * rejects with instead:
 * - through undici's ProxyAgent: "Proxy response (407) !== 200 when HTTP Tunneling" (CONNECT, for
 *   https:// URLs) or "Proxy Authentication Required (407)" (a forwarded http:// request);
 * - newer undici's fetch: the reason "proxy authentication required";
 * - Node 20's fetch, when something answers 407 with no proxy configured (an intercepting proxy):
 *   the spec's network error without a reason, a bare Error with an empty message. For the requests
 *   made here (CORS mode, redirects not followed) no other failure rejects with that.
 */
function isProxyAuthRequired(err: unknown): boolean {
  const chain = causeChain(err);
  if (chain.some((e) => e instanceof Error && /proxy.*\(407\)|^proxy authentication required$/i.test(e.message))) return true;
  const cause = chain[1];
  return (
    err instanceof TypeError &&
    cause instanceof Error &&
    cause.constructor === Error &&
    cause.message === '' &&
    (cause as { code?: unknown }).code === undefined
  );
}

/** " through the proxy http://proxy:3128 (from HTTPS_PROXY)", or "" for a direct connection. */
export function viaProxy(url: URL, proxy: ProxyConfig): string {
  const via = proxyFor(url, proxy);
  return via ? ` through the proxy ${proxyLabel(via.url)} (from ${via.variable})` : '';
}

/**
 * The error for a request to `url` that failed at the proxy, or undefined when it did not: the
 * proxy wants credentials (407), refused to open a tunnel, cannot be resolved or is not listening.
 * Through a proxy, the only host this process resolves and connects to is the proxy's, so those
 * failures name it and its variable rather than FLORA's host.
 */
export function proxyFailure(err: unknown, url: URL, proxy: ProxyConfig): FloraError | undefined {
  const auth = proxyAuthError(err, url, proxy);
  if (auth) return auth;
  const via = proxyFor(url, proxy);
  if (via === undefined) return undefined;
  const proxyName = `The proxy ${proxyLabel(via.url)} (from ${via.variable})`;
  const chain = causeChain(err);
  for (const e of chain) {
    const tunnel = e instanceof Error ? /Proxy response \((\d{3})\) !== 200/.exec(e.message) : null;
    if (tunnel) {
      const status = Number(tunnel[1]);
      return NetworkError.of(
        `${proxyName} answered HTTP ${status} to CONNECT ${url.host}: it did not open a connection there. ${status >= 500 ? 'This is often transient: try again shortly; if it persists, ' : ''}ask the user's network admin whether the proxy allows ${url.hostname}, or check ${via.variable}.`,
        { retryable: status >= 500, cause: err },
      );
    }
  }
  const code = chain.map((e) => (e as { code?: unknown }).code).find((c): c is string => typeof c === 'string');
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return NetworkError.of(
      `Could not resolve the proxy's host ${via.url.hostname} (${code}). Check ${via.variable} and the machine's network.`,
      {
        retryable: code === 'EAI_AGAIN',
        cause: err,
      },
    );
  }
  if (code === 'ECONNREFUSED') {
    return NetworkError.of(
      `${proxyName} refused the connection (ECONNREFUSED): nothing listens there. Check ${via.variable} and that the proxy is running.`,
      {
        cause: err,
      },
    );
  }
  return undefined;
}

/**
 * The error for a request to `url` that a proxy refused with 407, or undefined when `err` is not
 * that. The message says how to give credentials, and never shows the proxy's password.
 */
function proxyAuthError(err: unknown, url: URL, proxy: ProxyConfig): ProxyAuthError | undefined {
  return isProxyAuthRequired(err) ? proxyAuthRequired(url, proxy, err) : undefined;
}

/**
 * A 407 Proxy Authentication Required for a request to `url`: from the proxy the env names for
 * it, or, with none, from something in between (an intercepting proxy). Exported for an answer
 * that arrives as a response (Node's http module hands a 407 over, where fetch rejects).
 */
export function proxyAuthRequired(url: URL, proxy: ProxyConfig, err?: unknown): ProxyAuthError {
  const fix =
    'percent-encode @ : / in the user name or password (p%40ss for p@ss), then restart the MCP client. Retrying will not help until then; tell the user.';
  const via = proxyFor(url, proxy);
  if (via) {
    const who = `The proxy ${proxyLabel(via.url)} (from ${via.variable}) answered 407 Proxy Authentication Required`;
    if (via.url.username || via.url.password) {
      return ProxyAuthError.of(
        `${who}: it refused the user name and password in ${via.variable}, so nothing reached ${url.host}. Correct them in that URL (${via.url.protocol}//USER:PASSWORD@${via.url.host}); ${fix}`,
        err,
      );
    }
    return ProxyAuthError.of(
      `${who}: it wants a user name and password, so nothing reached ${url.host}. Put them in the proxy URL in this server's env: ${via.variable}=${via.url.protocol}//USER:PASSWORD@${via.url.host}; ${fix}`,
      err,
    );
  }
  const bypass = bypassFor(url, proxy);
  const variable = url.protocol === 'http:' ? 'HTTP_PROXY' : 'HTTPS_PROXY';
  return ProxyAuthError.of(
    `Something between this server and ${url.host} answered 407 Proxy Authentication Required: this network reaches it through a proxy that wants a user name and password, and no proxy is configured for ${url.host}${bypass ? ` (it matches "${bypass}" in NO_PROXY)` : ''}. Set ${variable}=http://USER:PASSWORD@PROXY_HOST:PORT in this server's env with your proxy's address; ${fix}`,
    err,
  );
}

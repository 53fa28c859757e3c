/**
 * Sending a signed upload's file to the storage host FLORA named (ImageKit or GCS: it varies). This
 * is not a FLORA request, so FLORA's key never goes there. Redirects are not followed, plain http
 * is refused except to loopback, the file streams from its file-backed Blob (read again on a
 * retry), and the time allowed grows with the file's size.
 */
import { CancelledError, FloraError, NetworkError, SourceRefusedError, TimeoutError, UpstreamError } from '../errors.js';
import type { Logger } from '../log.js';
import { NO_PROXY, type ProxyConfig } from '../proxy.js';
import { proxyFailure, viaProxy } from './responses.js';
import { isLoopbackHost } from './media-hosts.js';
import { sleep } from '../sleep.js';
import type { SignedUpload } from './schemas.js';

/** A POST of form fields then the file (GCS/ImageKit policy uploads), or a PUT of the bare file. */
export type StorageTarget =
  | { method: 'POST'; url: string; fileField: string; fields: Record<string, string> }
  | { method: 'PUT'; url: string };

/** The one storage target a signed-upload answer describes, whichever spelling FLORA used. */
export function storageTargetOf(answer: SignedUpload): StorageTarget {
  const up = answer.upload;
  if (up && up.method?.toUpperCase() !== 'PUT') {
    return {
      method: 'POST',
      url: up.url,
      fileField: up.file_field ?? up.fileField ?? 'file',
      fields: up.form_fields ?? up.formFields ?? {},
    };
  }
  const url = up?.url ?? answer.upload_url;
  if (!url) throw UpstreamError.of("FLORA's signed-upload answer names no upload URL; nothing was uploaded.");
  return { method: 'PUT', url };
}

export interface StorageUploadOptions {
  fetch: typeof fetch;
  /** For the advice when a proxy refuses the upload (407); `fetch` already follows it. */
  proxy?: ProxyConfig;
  /** Time allowed for a tiny file; the size adds a second per MIN_BYTES_PER_SECOND. */
  timeoutMs: number;
  maxRetries: number;
  baseBackoffMs: number;
  signal?: AbortSignal;
  log: Logger;
}

/** The slowest link an upload is given time for: 256 KiB/s (500 MB then gets about 33 minutes). */
const MIN_BYTES_PER_SECOND = 256 * 1024;
const EXCERPT_CHARS = 200;

export async function uploadToStorage(
  target: StorageTarget,
  file: Blob,
  fileName: string,
  opts: StorageUploadOptions,
): Promise<void> {
  const url = storageUrl(target.url);
  const timeoutMs = opts.timeoutMs + Math.ceil(file.size / MIN_BYTES_PER_SECOND) * 1000;
  for (let attempt = 0; ; attempt++) {
    try {
      return await attemptUpload(target, url, file, fileName, timeoutMs, opts);
    } catch (err) {
      if (!(err instanceof FloraError) || !err.retryable || attempt >= opts.maxRetries) throw err;
      const delay = opts.baseBackoffMs * 2 ** attempt;
      opts.log.warn(
        `upload to ${url.host} failed (${err.status ?? err.code}); retry ${attempt + 1}/${opts.maxRetries} in ${delay} ms`,
      );
      await sleep(delay, opts.signal);
    }
  }
}

/** https only, except to loopback (tests, local gateways): the file must not cross a network in clear. */
function storageUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw UpstreamError.of('FLORA named a storage upload URL that is not a URL; nothing was uploaded.');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw UpstreamError.of(
      `FLORA named a storage upload URL that is not https (${url.protocol}//${url.host}); nothing was uploaded.`,
    );
  }
  return url;
}

async function attemptUpload(
  target: StorageTarget,
  url: URL,
  file: Blob,
  fileName: string,
  timeoutMs: number,
  opts: StorageUploadOptions,
): Promise<void> {
  let body: FormData | Blob = file;
  const headers: Record<string, string> = {};
  if (target.method === 'POST') {
    // Policy uploads read the fields first: the file must be the last part.
    body = new FormData();
    for (const [k, v] of Object.entries(target.fields)) body.append(k, v);
    body.append(target.fileField, file, fileName);
  } else {
    headers['Content-Type'] = file.type || 'application/octet-stream';
  }
  const timer = new AbortController();
  const timeout = setTimeout(() => timer.abort(), timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timer.signal]) : timer.signal;
  let status: number | undefined;
  try {
    // 'error', not 'manual': with any other mode fetch keeps a copy of the streamed body for a
    // possible redirect (it tees the request), so the whole file would sit in memory.
    const res = await opts.fetch(url, { method: target.method, headers, body, redirect: 'error', signal });
    status = res.status;
    const text = await excerpt(res);
    if (res.status >= 200 && res.status < 300) return;
    const transient = res.status >= 500 || res.status === 429;
    const advice = transient
      ? 'This is usually transient: try again shortly.'
      : 'The signed upload may have expired (it lasts about 15 minutes) or been refused: call upload_media again for a fresh one.';
    throw UpstreamError.of(
      `The storage host ${url.host} refused the upload with HTTP ${res.status}${text ? ` ("${text}")` : ''}. ${advice}`,
      { status: res.status, retryable: transient },
    );
  } catch (err) {
    if (err instanceof FloraError) throw err;
    if (opts.signal?.aborted) throw CancelledError.of('The call was cancelled by the client during the upload.', err);
    if (causes(err).some((e) => /redirect/i.test(e.message))) {
      throw UpstreamError.of(
        `The storage host ${url.host} answered the upload with a redirect, which is not followed. Call upload_media again; if it repeats, FLORA's upload service has a problem.`,
      );
    }
    if (causes(err).some((e) => e.name === 'NotReadableError')) {
      throw SourceRefusedError.of(
        'The file changed on disk while it was being uploaded, so the upload was stopped. Call upload_media again once the file is complete.',
      );
    }
    if (timer.signal.aborted) {
      // Not retried: another attempt at a large file would take as long again.
      throw new TimeoutError('timeout', `The upload to ${url.host} did not finish within ${Math.round(timeoutMs / 1000)} s.`, {
        retryable: false,
        cause: err,
      });
    }
    const proxy = opts.proxy ?? NO_PROXY;
    const failure = proxyFailure(err, url, proxy);
    if (failure) throw failure;
    const code = (err as { cause?: { code?: string } })?.cause?.code ?? 'unknown';
    const phase = status === undefined ? 'while sending the file' : "while reading the storage host's answer";
    throw NetworkError.of(`The connection to the storage host ${url.host}${viaProxy(url, proxy)} failed ${phase} (${code}).`, {
      cause: err,
    });
  } finally {
    clearTimeout(timeout);
  }
}

/**
 * An error and its causes: fetch wraps what went wrong (a redirect refused; a file-backed Blob
 * that will not be read because the file's size or mtime changed: NotReadableError).
 */
function causes(err: unknown): Error[] {
  const out: Error[] = [];
  for (let e = err; e instanceof Error && out.length < 5; e = e.cause) out.push(e);
  return out;
}

/** The start of the storage host's answer (GCS and S3 explain refusals in a short XML body), one line. */
async function excerpt(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (text.length < EXCERPT_CHARS * 4) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel().catch(() => {});
  const message = /<Message>([^<]*)<\/Message>/i.exec(text)?.[1] ?? text;
  return message
    .replace(/[\s\u0000-\u001f\u007f]+/g, ' ')
    .trim()
    .slice(0, EXCERPT_CHARS);
}

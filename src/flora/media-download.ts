/**
 * Downloading one FLORA media file for preview_media. Not a FLORA API request: no Authorization
 * header, ever. Every URL, each redirect hop included, must pass the host rule (media-hosts.ts)
 * before it is requested; redirects are followed by hand, at most MAX_REDIRECTS of them. The body
 * is capped in bytes (by Content-Length up front, then by counting) and the whole download in time.
 */
import { CancelledError, FloraError, MediaRefusedError, NetworkError, TimeoutError, UpstreamError } from '../errors.js';
import { megabytes } from './assets.js';
import { mediaUrlProblem } from './media-hosts.js';

/** A 4096 px PNG of a photo is about 30 MB; FLORA's own URL uploads stop at 50 MB. */
export const MEDIA_DOWNLOAD_MAX_BYTES = 64_000_000;
const MAX_REDIRECTS = 3;

export interface MediaDownloadOptions {
  fetch: typeof fetch;
  /** FLORA_MEDIA_HOSTS. */
  extraHosts: readonly string[];
  /** For the whole download, redirects included. */
  timeoutMs: number;
  maxBytes?: number;
  signal?: AbortSignal;
}

export type MediaDownload =
  | { kind: 'bytes'; url: string; bytes: Uint8Array; contentType: string }
  /** The host says it is not an image (video, audio, PDF, text): its body was not read. */
  | { kind: 'not-image'; url: string; contentType: string };

const NOT_IMAGE = /^(video|audio|text)\/|^application\/(pdf|json)/;

/** Throws MediaRefusedError (nothing fetched) when `raw` is not a URL preview_media may fetch. */
export function checkMediaUrl(raw: string, extraHosts: readonly string[]): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw MediaRefusedError.of(`"${raw.slice(0, 200)}" is not a URL. Nothing was fetched.`);
  }
  const problem = mediaUrlProblem(url, extraHosts);
  if (problem) throw MediaRefusedError.of(`Not fetched: ${problem}. Nothing was fetched.`);
  return url;
}

export async function downloadMedia(raw: string, opts: MediaDownloadOptions): Promise<MediaDownload> {
  const maxBytes = opts.maxBytes ?? MEDIA_DOWNLOAD_MAX_BYTES;
  let url = checkMediaUrl(raw, opts.extraHosts);
  const timer = new AbortController();
  const timeout = setTimeout(() => timer.abort(), opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timer.signal]) : timer.signal;
  try {
    for (let hop = 0; ; hop++) {
      const res = await opts.fetch(url, { headers: { Accept: 'image/*' }, redirect: 'manual', signal });
      if (res.status >= 300 && res.status < 400 && res.headers.has('location')) {
        await res.body?.cancel();
        const next = new URL(res.headers.get('location') ?? '', url);
        const problem = mediaUrlProblem(next, opts.extraHosts);
        if (problem) {
          throw MediaRefusedError.of(
            `${url.host} redirected to ${next.protocol}//${next.host}, which is not followed: ${problem}.`,
          );
        }
        if (hop >= MAX_REDIRECTS) throw MediaRefusedError.of(`${raw} redirected more than ${MAX_REDIRECTS} times; not followed.`);
        url = next;
        continue;
      }
      if (res.status < 200 || res.status >= 300) {
        await res.body?.cancel();
        const transient = res.status >= 500 || res.status === 429;
        throw UpstreamError.of(
          `The media host ${url.host} answered HTTP ${res.status} for ${url.href}.${transient ? ' This is usually transient: try again shortly.' : " Check the URL (poll_run lists a run's outputs)."}`,
          { status: res.status, retryable: transient },
        );
      }
      const contentType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (NOT_IMAGE.test(contentType)) {
        await res.body?.cancel();
        return { kind: 'not-image', url: url.href, contentType };
      }
      const length = Number(res.headers.get('content-length') ?? Number.NaN);
      if (length > maxBytes) {
        await res.body?.cancel();
        throw tooLarge(url, `${megabytes(length)}`, maxBytes);
      }
      return { kind: 'bytes', url: url.href, bytes: await readCapped(res, url, maxBytes, length), contentType };
    }
  } catch (err) {
    if (err instanceof FloraError) throw err;
    if (opts.signal?.aborted) throw CancelledError.of('The call was cancelled by the client during the download.', err);
    if (timer.signal.aborted) {
      throw new TimeoutError(
        'timeout',
        `The download of ${url.href} did not finish within ${Math.round(opts.timeoutMs / 100) / 10} s. Try again later, or open the URL.`,
        {
          retryable: true,
          cause: err,
        },
      );
    }
    const code = (err as { cause?: { code?: string } })?.cause?.code ?? 'unknown';
    throw NetworkError.of(`The connection to the media host ${url.host} failed (${code}).`, { cause: err });
  } finally {
    clearTimeout(timeout);
  }
}

/**
 * The body, stopped as soon as it passes maxBytes (a host may send no or a false Content-Length).
 * With a Content-Length, the bytes go straight into one buffer of that size, not chunks and a copy.
 */
async function readCapped(res: Response, url: URL, maxBytes: number, announced: number): Promise<Uint8Array> {
  let bytes = new Uint8Array(Number.isInteger(announced) && announced >= 0 ? announced : 64 * 1024);
  let total = 0;
  if (res.body) {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (total + value.byteLength > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge(url, `over ${megabytes(maxBytes)}`, maxBytes);
      }
      if (total + value.byteLength > bytes.byteLength) {
        const grown = new Uint8Array(Math.min(maxBytes, Math.max(bytes.byteLength * 2, total + value.byteLength)));
        grown.set(bytes.subarray(0, total));
        bytes = grown;
      }
      bytes.set(value, total);
      total += value.byteLength;
    }
  }
  return bytes.subarray(0, total);
}

function tooLarge(url: URL, size: string, maxBytes: number): MediaRefusedError {
  return MediaRefusedError.of(
    `${url.href} is ${size}; preview_media downloads at most ${megabytes(maxBytes)}. Nothing was previewed: open the URL instead.`,
  );
}

/**
 * The media host of the fake FLORA: the files completed runs point at, served under /media/ on
 * the fake's own origin (http://127.0.0.1:port, which tests list in FLORA_MEDIA_HOSTS). It records
 * every request (with its Host and Authorization headers) so tests can show what was never
 * fetched and that FLORA's key never arrived; a request for a file it does not serve is a failure.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface MediaRequest {
  method: string;
  /** e.g. "/media/1024.png". */
  path: string;
  /** The Host header: which name the client used for this server. */
  host: string | undefined;
  authorization: string | undefined;
}

export type MediaFile =
  /** Bytes made when requested (a large test image is made only when a test asks for it). */
  | { contentType: string; bytes: () => Buffer; contentLength?: 'omit' }
  | { redirect: string; status?: number }
  /** Sends the headers and a first chunk, then nothing more. */
  | { stall: true; contentType: string }
  | { status: number };

export class FakeMedia {
  readonly requests: MediaRequest[] = [];
  readonly unrouted: MediaRequest[] = [];
  private readonly files = new Map<string, MediaFile>();

  constructor(readonly origin: string) {}

  /** The URL a run output or a preview_media call uses for `name`. */
  url(name: string): string {
    return `${this.origin}/media/${name}`;
  }

  serve(name: string, file: MediaFile): void {
    this.files.set(`/media/${name}`, file);
  }

  /** Requests for `name`, on any host name that reached this server. */
  requestsFor(name: string): MediaRequest[] {
    return this.requests.filter((r) => r.path === `/media/${name}`);
  }

  reset(): void {
    this.requests.length = 0;
    this.unrouted.length = 0;
    this.files.clear();
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const recorded: MediaRequest = {
      method: req.method ?? 'GET',
      path,
      host: req.headers.host,
      authorization: req.headers.authorization,
    };
    this.requests.push(recorded);
    req.resume();
    const file = this.files.get(path);
    if (!file) {
      this.unrouted.push(recorded);
      res.writeHead(404).end();
      return;
    }
    if ('redirect' in file) {
      res.writeHead(file.status ?? 302, { location: file.redirect }).end();
    } else if ('stall' in file) {
      res.writeHead(200, { 'content-type': file.contentType });
      res.write(Buffer.alloc(1024));
    } else if ('bytes' in file) {
      const bytes = file.bytes();
      const headers: Record<string, string | number> = { 'content-type': file.contentType };
      if (file.contentLength !== 'omit') headers['content-length'] = bytes.byteLength;
      res.writeHead(200, headers).end(bytes);
    } else {
      res.writeHead(file.status).end();
    }
  }
}

/**
 * FLORA's GETs (lists, polls, the catalog) through Node's own http/https modules instead of
 * `fetch`. On Node 20, `fetch` (undici behind the WHATWG Request, Headers and stream machinery)
 * costs about 0.3-0.5 ms of CPU per request more than `http.request` with a keep-alive agent; a
 * tool call that makes one GET spent more time in fetch than in everything else this server does
 * (profile and measurements: README "Per-call overhead"). Everything else keeps `fetch`:
 * requests with a body (every start and upload, where the money is), other hosts (storage,
 * previews), and any request that carries a proxy's dispatcher.
 *
 * It answers as `fetch` does for what FloraClient reads (an ApiResponse: status, headers, body),
 * without the WHATWG Response, Headers and ReadableStream it does not read: the answer as soon as
 * its head arrives, its body streaming (so a connection lost mid-answer still shows the status),
 * decoded from gzip, deflate or br as `fetch` decodes it; redirects are returned, never followed
 * (the client asks for redirect: 'manual'); a failure to connect rejects with TypeError("fetch
 * failed") whose `cause` is Node's error (ECONNREFUSED, ENOTFOUND...), as `fetch`'s does; an
 * aborted signal aborts the request and its body.
 *
 * http and https are loaded on the first GET, not at start (cold start).
 */
import type { Agent, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { ApiResponse, ApiTransport } from './responses.js';

interface Sender {
  request: typeof import('node:http').request;
  agent: Agent;
}

/** http's or https's request, with one keep-alive agent each for the process: HTTP mode's clients share connections. */
const senders = new Map<string, Sender>();

function senderFor(protocol: 'http:' | 'https:'): Sender {
  let sender = senders.get(protocol);
  if (sender === undefined) {
    const mod = process.getBuiltinModule(protocol === 'https:' ? 'node:https' : 'node:http') as typeof import('node:http');
    sender = { request: mod.request, agent: new mod.Agent({ keepAlive: true }) };
    senders.set(protocol, sender);
  }
  return sender;
}

/** What `fetch` accepts and decodes, in the order it asks for them. */
const ACCEPT_ENCODING = 'gzip, deflate, br';

/**
 * `fallback`, except that a GET to `origin` without a body or dispatcher, whose redirects are not
 * to be followed, goes through Node's http/https module. The caller sees to it that `origin` is
 * not reached through a proxy.
 */
export function directGets(origin: string, fallback: ApiTransport): ApiTransport {
  return (url, init) => {
    const direct =
      url.origin === origin &&
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      (init.method ?? 'GET').toUpperCase() === 'GET' &&
      init.body == null &&
      init.redirect === 'manual' && // what FloraClient asks; a redirect to follow is fetch's to follow
      init.dispatcher === undefined;
    return direct ? get(url, init) : fallback(url, init);
  };
}

function get(url: URL, init: RequestInit): Promise<ApiResponse> {
  const headers: Record<string, string> = { 'accept-encoding': ACCEPT_ENCODING };
  // FloraClient passes a plain object; anything else is read through Headers, as fetch reads it.
  const given = init.headers;
  // (Not `instanceof Headers`: that global loads fetch's whole implementation on first use.)
  const entries = given === undefined ? [] : Symbol.iterator in given ? new Headers(given) : Object.entries(given);
  for (const [name, value] of entries) headers[name.toLowerCase()] = typeof value === 'string' ? value : value.join(', ');
  const signal = init.signal ?? undefined;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const { request, agent } = senderFor(url.protocol as 'http:' | 'https:');
    const req = request(url, { method: 'GET', headers, agent, signal }, (res) => {
      try {
        resolve(toResponse(res));
      } catch (err) {
        res.destroy();
        reject(new TypeError('fetch failed', { cause: err }));
      }
    });
    req.on('error', (err) => reject(new TypeError('fetch failed', { cause: err })));
    req.end();
  });
}

/** Statuses whose answer has no body (fetch gives them a null one). */
const NULL_BODY = new Set([204, 205, 304]);

function toResponse(res: IncomingMessage): ApiResponse {
  const status = res.statusCode ?? 0;
  // Node joins repeated headers with ", " as fetch's Headers does (set-cookie aside, not read here).
  const headers = {
    get(name: string): string | null {
      const value = res.headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
    },
  };
  if (NULL_BODY.has(status)) {
    res.resume();
    return { status, headers, body: null };
  }
  return { status, headers, body: decoded(res) };
}

/** The body as `fetch` hands it over: decoded when it came gzip, deflate or br; otherwise as sent. */
function decoded(res: IncomingMessage): Readable {
  const coding = String(res.headers['content-encoding'] ?? '')
    .trim()
    .toLowerCase();
  if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== 'deflate' && coding !== 'br') return res;
  const zlib = process.getBuiltinModule('node:zlib') as typeof import('node:zlib');
  const { pipeline } = process.getBuiltinModule('node:stream') as typeof import('node:stream');
  const decoder =
    coding === 'br'
      ? zlib.createBrotliDecompress()
      : coding === 'deflate'
        ? zlib.createInflate() // zlib-wrapped deflate, as servers send it and fetch reads it
        : zlib.createGunzip();
  // An error on either side (a lost connection, a corrupt stream) errors the body the client reads.
  return pipeline(res, decoder, () => {});
}

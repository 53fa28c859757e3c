/**
 * FLORA's GETs go through Node's http module (src/flora/direct-get.ts), not fetch. What a user
 * would notice if that broke: answers FLORA compresses, a connection lost or a call cancelled in
 * the middle of an answer, nothing listening, connections not reused; and a start, an upload or a
 * proxied request taking this path instead of fetch.
 */
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FloraClient } from '../src/flora/client.js';
import { directGets } from '../src/flora/direct-get.js';
import type { ApiResponse, ApiTransport } from '../src/flora/responses.js';
import { readBody } from '../src/flora/responses.js';
import { FAKE_KEY, type FakeFlora } from './helpers/fake-flora.js';
import { BODY, fastClient, rejection } from './helpers/flora-client.js';
import { useFakeFlora } from './helpers/harness.js';
import { BUNDLE } from './helpers/paths.js';
import { startTlsFlora } from './helpers/tls-flora.js';

let fake: FakeFlora;
useFakeFlora((f) => (fake = f));

const COMPRESS = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync } as const;

/** A plain http server for what the fake cannot show (connections); closed after each test. */
const servers: Array<ReturnType<typeof createServer>> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});
async function plainServer(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handler);
  servers.push(server);
  const connections: number[] = [];
  server.on('connection', (socket) => connections.push(socket.remotePort ?? 0));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, connections };
}

describe("FLORA's GETs through Node's http module", () => {
  it.each(Object.keys(COMPRESS) as Array<keyof typeof COMPRESS>)(
    'asks for compressed answers, as fetch does, and reads one sent %s',
    async (coding) => {
      fake.route('GET /workspaces', (_req, res, ctx) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': coding });
        res.end(COMPRESS[coding](Buffer.from(JSON.stringify(ctx.defaultReply().body))));
      });
      const out = await fastClient(fake).listWorkspaces();
      expect(out.workspaces.map((w) => w.workspace_id)).toEqual(['ws_studio', 'ws_client']);
      expect(fake.requests[0]!.headers['accept-encoding']).toBe('gzip, deflate, br');
      expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
    },
  );

  it('a connection lost in the middle of an answer says FLORA had answered, and is retried', async () => {
    fake.route('GET /workspaces', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '400' });
      res.write('{"workspaces":[{"workspace_id":"ws_st');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const err = await rejection(() => fastClient(fake).listWorkspaces());
    expect(err.toPayload()).toMatchObject({ code: 'network_error', retryable: true });
    expect(err.message).toContain("failed while reading FLORA's answer");
    expect(err.message).toContain('gave up after 3 attempts');
    expect(fake.requests).toHaveLength(3);
  });

  it('a call cancelled while the answer is arriving ends as cancelled, at once', async () => {
    let headSent!: () => void;
    const head = new Promise<void>((r) => (headSent = r));
    fake.route('GET /workspaces', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"workspaces":[', () => headSent()); // and nothing more
    });
    const abort = new AbortController();
    const call = rejection(() => fastClient(fake).listWorkspaces({ signal: abort.signal }));
    await head;
    abort.abort();
    const err = await call;
    expect(err.code).toBe('cancelled');
    expect(fake.requests).toHaveLength(1);
  });

  it('an answer that stops arriving ends at FLORA_TIMEOUT_MS as a timeout', async () => {
    fake.route('GET /workspaces', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"workspaces":[');
    });
    const err = await rejection(() => fastClient(fake, { timeoutMs: 200, maxRetries: 0 }).listWorkspaces());
    expect(err.toPayload()).toMatchObject({ code: 'timeout', retryable: true });
    expect(err.message).toContain('within 200 ms (FLORA_TIMEOUT_MS)');
  });

  it('nothing listening at FLORA_BASE_URL: a network_error naming the refused connection', async () => {
    const { origin } = await plainServer(() => {});
    await new Promise((r) => servers.pop()!.close(r));
    const client = new FloraClient({ apiKey: FAKE_KEY, baseUrl: new URL(`${origin}/api/v1`), timeoutMs: 2_000, maxRetries: 0 });
    const err = await rejection(() => client.listWorkspaces());
    expect(err.toPayload()).toMatchObject({ code: 'network_error', retryable: true });
    expect(err.message).toContain('failed before FLORA answered (ECONNREFUSED)');
  });

  it('GETs one after another share one kept-alive connection', async () => {
    const { origin, connections } = await plainServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ workspaces: [] }));
    });
    const client = new FloraClient({ apiKey: FAKE_KEY, baseUrl: new URL(`${origin}/api/v1`), timeoutMs: 2_000, maxRetries: 0 });
    for (let i = 0; i < 4; i++) expect(await client.listWorkspaces()).toEqual({ workspaces: [] });
    expect(connections).toHaveLength(1);
  });
});

describe("reading FLORA's answers (readBody)", () => {
  const SIXTEEN_MB = 16 * 1024 * 1024;

  it('an answer over 16 MB is refused as upstream_error and not read further, on a GET and on a start', async () => {
    const huge = (_req: unknown, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(Buffer.alloc(SIXTEEN_MB + 1, 0x20));
    };
    fake.route('GET /workspaces', huge);
    fake.route('POST /generate', huge);
    const client = fastClient(fake, { maxRetries: 0 });
    for (const call of [() => client.listWorkspaces(), () => client.generate(BODY, 'idem-huge-answer')]) {
      const err = await rejection(call);
      expect(err.code).toBe('upstream_error');
      expect(err.message).toContain(`FLORA's answer exceeded ${SIXTEEN_MB} bytes and was not read.`);
    }
  });

  it('a body closed before its end (no error said why) fails the read instead of leaving it waiting', async () => {
    const body = new PassThrough();
    const read = readBody({ status: 200, headers: { get: () => null }, body });
    body.write('{"workspaces":[');
    body.destroy();
    await expect(read).rejects.toThrow('the answer ended before it was complete');
  });
});

describe('an https FLORA, straight through https.request', () => {
  it('the built server checks the certificate against the CAs Node trusts, and then sends the key', async () => {
    const flora = await startTlsFlora({ gzip: true });
    const check = (env: Record<string, string>) =>
      promisify(execFile)(process.execPath, [BUNDLE, '--check'], {
        env: { PATH: process.env.PATH ?? '', FLORA_API_KEY: FAKE_KEY, FLORA_BASE_URL: flora.baseUrl, ...env },
        timeout: 20_000,
      }).then(
        (r) => ({ code: 0, stdout: r.stdout }),
        (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
      );
    try {
      // Not trusted: refused before any request is sent, so FLORA never sees the key.
      const untrusted = await check({});
      expect(untrusted.code).toBe(1);
      expect(untrusted.stdout).toContain('network_error');
      expect(untrusted.stdout).toContain('SELF_SIGNED_CERT');
      expect(flora.seen).toEqual([]);

      const trusted = await check({ NODE_EXTRA_CA_CERTS: flora.certPath });
      expect(trusted.stdout).toContain('ws_tls  Over TLS (owner)');
      expect(trusted.code).toBe(0);
      expect(flora.seen).toEqual([{ path: '/api/v1/workspaces', authorization: `Bearer ${FAKE_KEY}` }]);
    } finally {
      flora.close();
    }
  });
});

describe("FloraClient's choice of transport", () => {
  afterEach(() => vi.restoreAllMocks());

  it('its GETs to FLORA skip fetch; a start still goes through fetch, once', async () => {
    const fetchSpy = vi.spyOn(globalThis, 'fetch');
    const client = fastClient(fake);
    await client.listWorkspaces();
    await client.listModels('image');
    expect(fetchSpy).not.toHaveBeenCalled();
    await client.generate(BODY, 'idem-through-fetch');
    expect(fetchSpy).toHaveBeenCalledTimes(1);
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /workspaces', 'GET /models', 'POST /generate']);
  });
});

describe('directGets: which requests take it', () => {
  const answered: ApiResponse = { status: 299, headers: { get: () => null }, body: null };

  it('only a GET without body or dispatcher to FLORA: the rest go to fetch as before', async () => {
    const { origin } = await plainServer((req, res) => {
      res.writeHead(req.url === '/empty' ? 204 : 200, { 'x-seen': `${req.method} ${req.url}` });
      res.end(req.url === '/empty' ? undefined : 'direct');
    });
    const fallback: string[] = [];
    const transport: ApiTransport = directGets(origin, async (url, init) => {
      fallback.push(`${init.method ?? 'GET'} ${url.href}${init.dispatcher ? ' (dispatcher)' : ''}`);
      return answered;
    });
    const manual = { redirect: 'manual' } as const;
    const direct = await transport(new URL(`${origin}/models`), {
      ...manual,
      method: 'GET',
      headers: { Accept: 'application/json' },
    });
    expect(direct.status).toBe(200);
    expect(direct.headers.get('X-Seen')).toBe('GET /models');
    expect(await readBody(direct)).toBe('direct');
    const empty = await transport(new URL(`${origin}/empty`), manual);
    expect(empty).toMatchObject({ status: 204, body: null });

    await transport(new URL(`${origin}/generate`), { ...manual, method: 'POST', body: '{}' });
    await transport(new URL('http://storage.example/upload'), { ...manual, method: 'GET' });
    await transport(new URL(`${origin}/models`), { ...manual, method: 'GET', dispatcher: {} as RequestInit['dispatcher'] });
    await transport(new URL(`${origin}/models`), { method: 'GET' });
    expect(fallback).toEqual([
      `POST ${origin}/generate`,
      'GET http://storage.example/upload',
      `GET ${origin}/models (dispatcher)`,
      `GET ${origin}/models`, // fetch follows redirects by default: that one stays fetch's
    ]);
  });

  it('a signal aborted before the request sends nothing', async () => {
    const seen: string[] = [];
    const { origin } = await plainServer((req, res) => {
      seen.push(req.url ?? '');
      res.end('{}');
    });
    const abort = new AbortController();
    abort.abort(new Error('gone'));
    const transport = directGets(origin, async () => answered);
    await expect(transport(new URL(`${origin}/models`), { redirect: 'manual', signal: abort.signal })).rejects.toThrow('gone');
    expect(seen).toEqual([]);
  });
});

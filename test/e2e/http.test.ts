/**
 * Streamable HTTP mode through the SDK's own Streamable HTTP client: per-request keys, 401 without
 * one, Host/Origin checks, limits, /healthz, drain, and two users in parallel each reaching FLORA
 * with their own key only. `logged` holds every line the server writes: its own logger's and, via
 * the logWrite seam, each request's logger's (where a request's key must be redacted).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startHttpServer, type HttpServer } from '../../src/http.js';
import { createLogger, makeRedactor } from '../../src/log.js';
import { FAKE_KEY, floraError, type FakeFlora } from '../helpers/fake-flora.js';
import { structuredOf, TOOL_NAMES, useFakeFlora } from '../helpers/harness.js';

let fake: FakeFlora;
let http: HttpServer | undefined;
const clients: Client[] = [];
let logged = '';

useFakeFlora(
  (f) => (fake = f),
  async () => {
    for (const c of clients.splice(0)) await c.close().catch(() => {});
    await http?.close(100);
    http = undefined;
    logged = '';
  },
);

async function start(opts: { env?: Record<string, string>; allowedHosts?: string[]; useEnvKey?: boolean } = {}) {
  const config = loadConfig({ FLORA_BASE_URL: fake.baseUrl, FLORA_LOG: 'debug', ...opts.env });
  http = await startHttpServer({
    config,
    host: '127.0.0.1',
    port: 0,
    allowedHosts: opts.allowedHosts ?? [],
    useEnvKey: opts.useEnvKey ?? false,
    log: createLogger('debug', makeRedactor(config.apiKey), (line) => (logged += line)),
    logWrite: (line) => (logged += line),
  });
  return http;
}

async function connect(headers: Record<string, string>): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(http!.url), { requestInit: { headers } });
  const client = new Client({ name: 'http-test', version: '0' });
  await client.connect(transport);
  clients.push(client);
  return client;
}

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** A raw request, for what fetch cannot send (a foreign Host header). */
function raw(
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(http!.url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path, method: opts.method ?? 'POST', headers: { ...JSON_HEADERS, ...opts.headers } },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A POST to /mcp whose body goes out in `chunks`, chunked: no Content-Length announces its size. */
function postChunked(chunks: string[]): Promise<{ status: number; body: string }> {
  const url = new URL(http!.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: '/mcp',
        method: 'POST',
        agent: false, // a connection of its own: the server may stop reading it mid-body
        headers: { ...JSON_HEADERS, authorization: `Bearer ${FAKE_KEY}`, 'transfer-encoding': 'chunked' },
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    void (async () => {
      for (const chunk of chunks) {
        if (req.destroyed) return;
        await new Promise<void>((r) => req.write(chunk, () => r()));
      }
      req.end();
    })();
  });
}

/**
 * A POST to /mcp that announces `contentLength` and then sends nothing, keeping its connection
 * open: the answer, or 'no answer' when none came within `waitMs`.
 */
function announceOnly(contentLength: number, waitMs = 2_000): Promise<{ status: number; body: string } | 'no answer'> {
  const url = new URL(http!.url);
  return new Promise((resolve) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      path: '/mcp',
      method: 'POST',
      agent: false,
      headers: { ...JSON_HEADERS, authorization: `Bearer ${FAKE_KEY}`, 'content-length': String(contentLength) },
    });
    const timer = setTimeout(() => {
      resolve('no answer');
      req.destroy();
    }, waitMs);
    req.on('response', (res) => {
      clearTimeout(timer);
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
        req.destroy();
      });
    });
    req.on('error', () => {}); // destroyed by this function, once it has its outcome
    req.flushHeaders();
  });
}

/** FLORA refuses the model catalog with a message that repeats the caller's key back. */
function floraEchoesKeyFromModels(): void {
  fake.route('GET /models', (req) =>
    floraError(
      403,
      'forbidden',
      `Key ${String(req.headers.authorization).replace(/^Bearer /, '')} may not read the model catalog`,
    ),
  );
}

/** A start with a model: its pre-flight reads the catalog, whose failure is logged with FLORA's message. */
const START_WITH_MODEL = {
  project_id: 'prj_s01',
  workspace_id: 'ws_studio',
  prompt: 'a mug',
  type: 'image',
  model: 't2i-flux-2-pro',
};

const LIST = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
const CATALOG_WARNING = 'model catalog unavailable';

describe('Streamable HTTP mode', () => {
  it('lists and calls tools with a key from the Authorization header, sent to FLORA for that request', async () => {
    await start();
    const client = await connect({ Authorization: `Bearer ${FAKE_KEY}` });
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(TOOL_NAMES);
    const out = structuredOf<{ workspaces: unknown[] }>(
      (await client.callTool({ name: 'list_workspaces', arguments: {} })) as CallToolResult,
    );
    expect(out.workspaces).toHaveLength(2);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
  });

  it("refuses upload_media of a local path, even one that exists on the server's disk: it would be the server's file", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flora-http-upload-'));
    const path = join(dir, 'server-side.png');
    writeFileSync(path, Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex'));
    try {
      await start();
      const client = await connect({ Authorization: `Bearer ${FAKE_KEY}` });
      for (const source of [path, pathToFileURL(path).href]) {
        const result = (await client.callTool({
          name: 'upload_media',
          arguments: { source, workspace_id: 'ws_studio' },
        })) as CallToolResult;
        expect(result.isError).toBe(true);
        const { error } = JSON.parse((result.content[0] as { text: string }).text) as {
          error: { code: string; message: string };
        };
        expect(error.code).toBe('source_refused');
        expect(error.message).toContain('this server runs over HTTP');
        expect(error.message).toContain('Pass a public https:// URL');
      }
      expect(fake.requests).toHaveLength(0);
      expect(fake.assets.storageUploads).toHaveLength(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("never logs the request's key, even when FLORA repeats it back in an error", async () => {
    // Not shaped like sk_live_…: only the request's own redactor can hide it.
    const teamKey = 'flora-team-key-7d3e9a21';
    fake.otherKeys = [teamKey];
    floraEchoesKeyFromModels();
    await start();
    const client = await connect({ Authorization: `Bearer ${teamKey}` });
    const started = structuredOf<{ run_id: string }>(
      (await client.callTool({ name: 'start_generation_run', arguments: START_WITH_MODEL })) as CallToolResult,
    );
    expect(fake.runs.has(started.run_id)).toBe(true);
    // FLORA's message was logged, with the key in it hidden.
    expect(logged).toContain(CATALOG_WARNING);
    expect(logged).toContain('Key [redacted] may not read the model catalog');
    expect(logged).not.toContain(teamKey);
  });

  it('also takes the key from X-Flora-Api-Key', async () => {
    await start();
    const client = await connect({ 'X-Flora-Api-Key': FAKE_KEY });
    const started = structuredOf<{ run_id: string }>(
      (await client.callTool({
        name: 'start_generation_run',
        arguments: { project_id: 'prj_s01', workspace_id: 'ws_studio', prompt: 'a mug', type: 'image' },
      })) as CallToolResult,
    );
    expect(fake.runs.has(started.run_id)).toBe(true);
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
  });

  it('answers 401 with a JSON error and WWW-Authenticate when the request brings no key', async () => {
    await start({ env: { FLORA_API_KEY: FAKE_KEY } });
    const res = await raw('/mcp', { body: LIST });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="flora-generation-mcp"');
    expect(JSON.parse(res.body)).toMatchObject({
      jsonrpc: '2.0',
      error: { message: expect.stringContaining('Authorization: Bearer') },
    });
    // The server's own env key was not used for it.
    expect(fake.requests).toHaveLength(0);
    await expect(connect({})).rejects.toThrow();
  });

  it("uses the server's env key for keyless requests only when the operator opts in", async () => {
    await start({ env: { FLORA_API_KEY: FAKE_KEY }, useEnvKey: true });
    const client = await connect({});
    structuredOf((await client.callTool({ name: 'list_workspaces', arguments: {} })) as CallToolResult);
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
  });

  it('refuses a foreign Host or Origin with 403 (DNS rebinding), before reading any key', async () => {
    await start();
    const auth = { authorization: `Bearer ${FAKE_KEY}` };
    const host = await raw('/mcp', { body: LIST, headers: { ...auth, host: 'evil.example:80' } });
    expect(host.status).toBe(403);
    expect(host.body).toContain('evil.example');
    const origin = await raw('/mcp', { body: LIST, headers: { ...auth, origin: 'https://evil.example' } });
    expect(origin.status).toBe(403);
    const local = await raw('/mcp', { body: LIST, headers: { ...auth, origin: 'http://localhost:5173' } });
    expect(local.status).toBe(200);
    expect(fake.requests).toHaveLength(0);
  });

  it('accepts the host names the operator allows, and only those', async () => {
    await start({ allowedHosts: ['mcp.internal.example'] });
    const auth = { authorization: `Bearer ${FAKE_KEY}` };
    expect((await raw('/mcp', { body: LIST, headers: { ...auth, host: 'mcp.internal.example' } })).status).toBe(200);
    expect((await raw('/mcp', { body: LIST, headers: { ...auth, host: '127.0.0.1' } })).status).toBe(403);
  });

  it('limits the body size, takes POST only, and serves /healthz', async () => {
    await start();
    const auth = { authorization: `Bearer ${FAKE_KEY}` };
    const big = await raw('/mcp', { body: `{"x":"${'a'.repeat(1024 * 1024 + 10)}"}`, headers: auth });
    expect(big.status).toBe(413);
    expect((await raw('/mcp', { method: 'GET', headers: auth })).status).toBe(405);
    expect((await raw('/mcp', { body: '{not json', headers: auth })).status).toBe(400);
    const health = await raw('/healthz', { method: 'GET' });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok' });
    expect((await raw('/elsewhere', { method: 'GET' })).status).toBe(404);
  });

  it('answers 413 to a chunked body that outgrows the limit, which no Content-Length announced', async () => {
    await start();
    const pad = 'a'.repeat(256 * 1024);
    const res = await postChunked([
      '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"pad":"',
      pad,
      pad,
      pad,
      pad,
      pad,
      '"}}',
    ]);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ jsonrpc: '2.0', error: { message: 'Request body over 1048576 bytes.' } });
  });

  it('answers 413 at once to an announced oversize body, without waiting for it', async () => {
    await start();
    const answer = await announceOnly(2 * 1024 * 1024);
    expect(answer === 'no answer' ? answer : answer.status).toBe(413);
  });

  it('gives two users in parallel each their own key, and no other, in their logs too', async () => {
    // Not shaped like sk_live_…: only each request's own redactor can hide them.
    const keyA = 'flora-team-a-51c07e';
    const keyB = 'flora-team-b-9a2f44';
    fake.otherKeys = [keyA, keyB];
    floraEchoesKeyFromModels();
    await start();
    const a = await connect({ Authorization: `Bearer ${keyA}` });
    const b = await connect({ Authorization: `Bearer ${keyB}` });
    const calls = [];
    for (let i = 0; i < 10; i++) {
      calls.push(a.callTool({ name: 'list_projects', arguments: { workspace_id: 'ws_studio' } }));
      calls.push(b.callTool({ name: 'list_projects', arguments: { workspace_id: 'ws_client' } }));
    }
    calls.push(a.callTool({ name: 'start_generation_run', arguments: START_WITH_MODEL }));
    calls.push(b.callTool({ name: 'start_generation_run', arguments: { ...START_WITH_MODEL, workspace_id: 'ws_client' } }));
    const results = (await Promise.all(calls)) as CallToolResult[];
    expect(results.every((r) => !r.isError)).toBe(true);
    const listings = fake.requests.filter((r) => r.path === '/projects');
    expect(listings).toHaveLength(20);
    for (const r of listings) {
      const expected = r.query.workspace_id === 'ws_studio' ? keyA : keyB;
      expect(r.headers.authorization).toBe(`Bearer ${expected}`);
    }
    const starts = fake.requests.filter((r) => r.path === '/generate');
    expect(starts.map((r) => [(r.body as { workspace_id: string }).workspace_id, r.headers.authorization]).sort()).toEqual([
      ['ws_client', `Bearer ${keyB}`],
      ['ws_studio', `Bearer ${keyA}`],
    ]);
    // Both catalog refusals were logged, each with its request's key hidden.
    expect(logged.split(CATALOG_WARNING)).toHaveLength(3);
    expect(logged).not.toContain(keyA);
    expect(logged).not.toContain(keyB);
  });

  it('drains on close: a call in flight is answered, new requests are refused', async () => {
    await start();
    fake.route('GET /workspaces', async (_req, _res, ctx) => {
      await new Promise((r) => setTimeout(r, 400));
      return ctx.defaultReply();
    });
    const client = await connect({ Authorization: `Bearer ${FAKE_KEY}` });
    const inFlight = client.callTool({ name: 'list_workspaces', arguments: {} });
    await new Promise((r) => setTimeout(r, 100));
    const closed = http!.close(5_000);
    const result = (await inFlight) as CallToolResult;
    expect(result.isError).toBeUndefined();
    await closed;
    await expect(raw('/healthz', { method: 'GET' })).rejects.toThrow();
    http = undefined;
  });
});

describe('Streamable HTTP mode: what each refusal says', () => {
  /** The JSON-RPC error of a refused request, checked to be JSON as MCP clients expect. */
  function refusal(res: { status: number; headers: Record<string, string | string[] | undefined>; body: string }) {
    expect(res.headers['content-type']).toBe('application/json');
    const parsed = JSON.parse(res.body) as { jsonrpc: string; error: { code: number; message: string }; id: null };
    expect(parsed).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 }, id: null });
    return { status: res.status, message: parsed.error.message };
  }
  const auth = { authorization: `Bearer ${FAKE_KEY}` };

  it('names the foreign Host or Origin, the wrong path, the wrong method and the bad body', async () => {
    await start();
    expect(refusal(await raw('/mcp', { body: LIST, headers: { ...auth, host: 'evil.example:80' } }))).toEqual({
      status: 403,
      message: 'Host "evil.example:80" is not allowed. The operator can add it with --allowed-hosts.',
    });
    expect(refusal(await raw('/mcp', { body: LIST, headers: { ...auth, origin: 'https://evil.example' } }))).toEqual({
      status: 403,
      message: 'Origin "https://evil.example" is not allowed.',
    });
    expect(refusal(await raw('/elsewhere', { method: 'GET' }))).toEqual({
      status: 404,
      message: 'Not found: the MCP endpoint is /mcp.',
    });
    const get = await raw('/mcp', { method: 'GET', headers: auth });
    expect(get.headers.allow).toBe('POST');
    expect(refusal(get)).toEqual({ status: 405, message: 'Method not allowed: this stateless endpoint takes POST only.' });
    expect(refusal(await raw('/mcp', { body: '{not json', headers: auth }))).toEqual({
      status: 400,
      message: 'Request body is not valid JSON.',
    });
    const announced = await raw('/mcp', { body: `{"x":"${'a'.repeat(1024 * 1024)}"}`, headers: auth });
    expect(refusal(announced)).toEqual({ status: 413, message: 'Request body over 1048576 bytes.' });
    expect(fake.requests).toHaveLength(0);
  });

  it('refuses an Origin whose scheme is not at its start, even when localhost follows it', async () => {
    await start();
    const res = await raw('/mcp', { body: LIST, headers: { ...auth, origin: 'evil@x://localhost' } });
    expect(refusal(res).status).toBe(403);
  });

  it('answers the request itself as JSON, not as an event stream', async () => {
    await start();
    const res = await raw('/mcp', { body: LIST, headers: auth });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const { result } = JSON.parse(res.body) as { result: { tools: Array<{ name: string }> } };
    expect(result.tools.map((t) => t.name)).toEqual(TOOL_NAMES);
  });

  it('takes a body of exactly the limit, announced or chunked', async () => {
    await start();
    const head = '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"pad":"';
    const tail = '"}}';
    const body = `${head}${'a'.repeat(1024 * 1024 - head.length - tail.length)}${tail}`;
    expect(Buffer.byteLength(body)).toBe(1024 * 1024);
    expect((await raw('/mcp', { body, headers: auth })).status).toBe(200);
    const chunked = await postChunked([body.slice(0, 500_000), body.slice(500_000)]);
    expect(chunked.status).toBe(200);
  });
});

describe('Streamable HTTP mode: whose key', () => {
  /** Whether the request with these headers got through (200) or was refused for want of a key (401). */
  async function statusWith(headers: Record<string, string>): Promise<number> {
    return (await raw('/mcp', { body: LIST, headers })).status;
  }

  it('reads a Bearer key however many spaces follow "Bearer", and sends FLORA only the key', async () => {
    await start();
    const client = await connect({ Authorization: `Bearer   ${FAKE_KEY}` });
    structuredOf((await client.callTool({ name: 'list_workspaces', arguments: {} })) as CallToolResult);
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
  });

  it.each([
    ['a scheme that only ends in Bearer', { authorization: `XBearer ${FAKE_KEY}` }],
    ['a Bearer value of two words', { authorization: `Bearer ${FAKE_KEY} extra` }],
    ['an X-Flora-Api-Key with a space inside', { 'x-flora-api-key': 'sk_live_abc def' }],
  ])('refuses %s as no key (401), sending nothing to FLORA', async (_label, headers) => {
    await start();
    expect(await statusWith(headers)).toBe(401);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('Streamable HTTP mode: the server itself', () => {
  it('gives a call as long as FLORA_MAX_WAIT_SECONDS allows, plus 70 s for FLORA, before Node times the request out', async () => {
    const server = await start({ env: { FLORA_MAX_WAIT_SECONDS: '30' } });
    expect(server.server.requestTimeout).toBe(100_000);
  });

  it('fails to start, with the reason, on a port already taken', async () => {
    const first = await start();
    const taken = Number(new URL(first.url).port);
    const config = loadConfig({ FLORA_BASE_URL: fake.baseUrl });
    await expect(
      startHttpServer({
        config,
        host: '127.0.0.1',
        port: taken,
        allowedHosts: [],
        useEnvKey: false,
        log: createLogger('off', makeRedactor(undefined)),
      }),
    ).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('shows an IPv6 address in brackets in its URL', async () => {
    const config = loadConfig({ FLORA_BASE_URL: fake.baseUrl });
    const v6 = await startHttpServer({
      config,
      host: '::1',
      port: 0,
      allowedHosts: [],
      useEnvKey: false,
      log: createLogger('off', makeRedactor(undefined)),
    });
    try {
      expect(v6.url).toMatch(/^http:\/\/\[::1\]:\d+\/mcp$/);
    } finally {
      await v6.close(100);
    }
  });

  it('closes at once when nothing is in flight, however long it would let requests drain', async () => {
    await start();
    expect((await raw('/healthz', { method: 'GET' })).status).toBe(200);
    // Resolves, rather than waiting out the minute (the test would time out first).
    await http!.close(60_000);
    http = undefined;
  });

  it('drains every call in flight, not only the first to finish, and refuses new ones meanwhile', async () => {
    await start();
    const gates: Array<() => void> = [];
    fake.route('GET /workspaces', async (_req, _res, ctx) => {
      await new Promise<void>((resolve) => gates.push(resolve));
      return ctx.defaultReply();
    });
    const client = await connect({ Authorization: `Bearer ${FAKE_KEY}` });
    const first = client.callTool({ name: 'list_workspaces', arguments: {} });
    const second = client.callTool({ name: 'list_workspaces', arguments: {} });
    while (gates.length < 2) await new Promise((r) => setTimeout(r, 10));

    const closed = http!.close(10_000);
    const refused = await raw('/mcp', { body: LIST, headers: { authorization: `Bearer ${FAKE_KEY}` } }).catch(() => undefined);
    if (refused) {
      expect(refused.status).toBe(503);
      expect(refused.headers.connection).toBe('close');
      expect(JSON.parse(refused.body)).toMatchObject({ error: { message: 'Shutting down; retry on another instance.' } });
    }
    gates[0]!();
    structuredOf((await first) as CallToolResult);
    gates[1]!();
    structuredOf((await second) as CallToolResult);
    await closed;
    http = undefined;
  });

  it('ends the work of a request whose client went away: no more polls reach FLORA', async () => {
    // FLORA's estimate (1 s) is far too short, so the wait polls about every second once it is overdue.
    fake.runPlan = { durationMs: 60_000 };
    fake.route('POST /generate', (_req, _res, ctx) => {
      const reply = ctx.defaultReply();
      return { ...reply, body: { ...(reply.body as object), estimated_seconds: 1 } };
    });
    await start();
    const url = new URL(http!.url);
    const call = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'start_generation_run', arguments: { ...START_WITH_MODEL, wait_seconds: 40 } },
    });
    const req = request({
      host: url.hostname,
      port: url.port,
      path: '/mcp',
      method: 'POST',
      agent: false,
      headers: { ...JSON_HEADERS, authorization: `Bearer ${FAKE_KEY}` },
    });
    req.on('error', () => {}); // destroyed below: the client goes away
    req.end(call);
    while (fake.requestsTo('POST', '/generate').length === 0) await new Promise((r) => setTimeout(r, 20));
    const goneAt = Date.now();
    req.destroy();

    // Long enough for two more polls had the wait gone on.
    await new Promise((r) => setTimeout(r, 2_300));
    expect(fake.requests.filter((r) => r.at > goneAt + 100)).toEqual([]);
    expect(fake.runs.size).toBe(1);
  });
});

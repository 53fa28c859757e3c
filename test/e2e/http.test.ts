/**
 * Streamable HTTP mode through the SDK's own Streamable HTTP client: per-request keys, 401 without
 * one, Host/Origin checks, limits, /healthz, drain, and two users in parallel each reaching FLORA
 * with their own key only.
 */
import { request } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startHttpServer, type HttpServer } from '../../src/http.js';
import { createLogger, makeRedactor } from '../../src/log.js';
import { FAKE_KEY, type FakeFlora } from '../helpers/fake-flora.js';
import { structuredOf, useFakeFlora } from '../helpers/harness.js';
import { spawnHttpBundle } from '../helpers/measure.js';

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

/** A raw request, for what fetch cannot send (a foreign Host header). */
function raw(
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(http!.url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path, method: opts.method ?? 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...opts.headers } },
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

const LIST = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });

describe('Streamable HTTP mode', () => {
  it('lists and calls tools with a key from the Authorization header, sent to FLORA for that request', async () => {
    await start();
    const client = await connect({ Authorization: `Bearer ${FAKE_KEY}` });
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['list_workspaces', 'list_projects', 'list_models', 'start_generation_run', 'poll_run']);
    const out = structuredOf<{ workspaces: unknown[] }>((await client.callTool({ name: 'list_workspaces', arguments: {} })) as CallToolResult);
    expect(out.workspaces).toHaveLength(2);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
    expect(logged).not.toContain(FAKE_KEY);
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
    expect(JSON.parse(res.body)).toMatchObject({ jsonrpc: '2.0', error: { message: expect.stringContaining('Authorization: Bearer') } });
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

  it('gives two users in parallel each their own key, and no other', async () => {
    const keyB = 'sk_live_second_user_77';
    fake.otherKeys = [keyB];
    await start();
    const a = await connect({ Authorization: `Bearer ${FAKE_KEY}` });
    const b = await connect({ Authorization: `Bearer ${keyB}` });
    const calls = [];
    for (let i = 0; i < 10; i++) {
      calls.push(a.callTool({ name: 'list_projects', arguments: { workspace_id: 'ws_studio' } }));
      calls.push(b.callTool({ name: 'list_projects', arguments: { workspace_id: 'ws_client' } }));
    }
    const results = (await Promise.all(calls)) as CallToolResult[];
    expect(results.every((r) => !r.isError)).toBe(true);
    expect(fake.requests).toHaveLength(20);
    for (const r of fake.requests) {
      const expected = r.query.workspace_id === 'ws_studio' ? FAKE_KEY : keyB;
      expect(r.headers.authorization).toBe(`Bearer ${expected}`);
    }
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

describe('the bundle in HTTP mode', () => {
  it('starts with --transport http, serves /mcp, and exits cleanly on SIGTERM', async () => {
    const { child, url } = await spawnHttpBundle({ FLORA_BASE_URL: fake.baseUrl });
    const client = new Client({ name: 'http-bin', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${FAKE_KEY}` } } }));
    expect((await client.listTools()).tools).toHaveLength(5);
    await client.close();
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

/**
 * Streamable HTTP mode at its edges: what each refusal says (and that it is JSON-RPC), the body
 * cap at exactly its limit, which Authorization values carry a key, and the server's own life:
 * its request timeout, a port already taken, IPv6, drain of every call, a client that goes away.
 */
import { request } from 'node:http';
import { connect as connectSocket } from 'node:net';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startHttpServer } from '../../src/http.js';
import { createLogger, makeRedactor } from '../../src/log.js';
import { estimatedStart, FAKE_KEY } from '../helpers/fake-flora.js';
import { structuredOf, TOOL_NAMES } from '../helpers/harness.js';
import { JSON_HEADERS, LIST, START_WITH_MODEL, type RawAnswer, useHttpMode } from '../helpers/http-mode.js';

const mode = useHttpMode();
const { start, connect, raw, postChunked } = mode;

describe('Streamable HTTP mode: what each refusal says', () => {
  /** The JSON-RPC error of a refused request, checked to be JSON as MCP clients expect. */
  function refusal(res: RawAnswer) {
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
    expect(mode.fake.requests).toHaveLength(0);
  });

  it('refuses a request without a Host header (HTTP/1.0), saying the Host it got was empty', async () => {
    await start();
    const { hostname, port } = new URL(mode.server().url);
    const answer = await new Promise<string>((resolve, reject) => {
      let text = '';
      const socket = connectSocket(Number(port), hostname, () => socket.end(`GET /healthz HTTP/1.0\r\n\r\n`));
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 403 /);
    expect(answer).toContain('"message":"Host \\"\\" is not allowed. The operator can add it with --allowed-hosts."');
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
    expect(mode.fake.requests[0]!.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
  });

  it.each([
    ['a scheme that only ends in Bearer', { authorization: `XBearer ${FAKE_KEY}` }],
    ['a Bearer value of two words', { authorization: `Bearer ${FAKE_KEY} extra` }],
    ['an X-Flora-Api-Key with a space inside', { 'x-flora-api-key': 'sk_live_abc def' }],
  ])('refuses %s as no key (401), sending nothing to FLORA', async (_label, headers) => {
    await start();
    expect(await statusWith(headers)).toBe(401);
    expect(mode.fake.requests).toHaveLength(0);
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
    const config = loadConfig({ FLORA_BASE_URL: mode.fake.baseUrl });
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
    const config = loadConfig({ FLORA_BASE_URL: mode.fake.baseUrl });
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
    await mode.server().close(60_000);
    mode.forget();
  });

  it('drains every call in flight, not only the first to finish, and refuses new ones meanwhile', async () => {
    await start();
    const gates: Array<() => void> = [];
    mode.fake.route('GET /workspaces', async (_req, _res, ctx) => {
      await new Promise<void>((resolve) => gates.push(resolve));
      return ctx.defaultReply();
    });
    const client = await connect({ Authorization: `Bearer ${FAKE_KEY}` });
    const first = client.callTool({ name: 'list_workspaces', arguments: {} });
    const second = client.callTool({ name: 'list_workspaces', arguments: {} });
    while (gates.length < 2) await new Promise((r) => setTimeout(r, 10));

    const closed = mode.server().close(10_000);
    // No new connection is taken meanwhile.
    await expect(raw('/mcp', { body: LIST, headers: { authorization: `Bearer ${FAKE_KEY}` } })).rejects.toThrow();
    gates[0]!();
    structuredOf((await first) as CallToolResult);
    gates[1]!();
    structuredOf((await second) as CallToolResult);
    await closed;
    mode.forget();
  });

  it('ends the work of a request whose client went away: no more polls reach FLORA', async () => {
    // FLORA's estimate (1 s) is far too short, so the wait polls about every second once it is overdue.
    mode.fake.runPlan = { durationMs: 60_000 };
    mode.fake.route('POST /generate', estimatedStart(1));
    await start();
    const url = new URL(mode.server().url);
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
    while (mode.fake.requestsTo('POST', '/generate').length === 0) await new Promise((r) => setTimeout(r, 20));
    const goneAt = Date.now();
    req.destroy();

    // Long enough for two more polls had the wait gone on.
    await new Promise((r) => setTimeout(r, 2_300));
    expect(mode.fake.requests.filter((r) => r.at > goneAt + 100)).toEqual([]);
    expect(mode.fake.runs.size).toBe(1);
  });
});

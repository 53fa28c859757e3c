/**
 * Streamable HTTP mode through the SDK's own Streamable HTTP client: per-request keys, 401 without
 * one, Host/Origin checks, limits, /healthz, drain, and two users in parallel each reaching FLORA
 * with their own key only, in their logs too (test/helpers/http-mode.ts keeps every line written).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { FAKE_KEY, floraError } from '../helpers/fake-flora.js';
import { errorOf, structuredOf, TOOL_NAMES } from '../helpers/harness.js';
import { LIST, START_WITH_MODEL, useHttpMode } from '../helpers/http-mode.js';

const mode = useHttpMode();
const { start, connect, raw, postChunked, announceOnly } = mode;

/** FLORA refuses the model catalog with a message that repeats the caller's key back. */
function floraEchoesKeyFromModels(): void {
  mode.fake.route('GET /models', (req) =>
    floraError(
      403,
      'forbidden',
      `Key ${String(req.headers.authorization).replace(/^Bearer /, '')} may not read the model catalog`,
    ),
  );
}

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
    expect(mode.fake.requests).toHaveLength(1);
    expect(mode.fake.requests[0]!.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
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
      expect(mode.fake.requests).toHaveLength(0);
      expect(mode.fake.assets.storageUploads).toHaveLength(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("never logs the request's key, even when FLORA repeats it back in an error", async () => {
    // Not shaped like sk_live_…: only the request's own redactor can hide it.
    const teamKey = 'flora-team-key-7d3e9a21';
    mode.fake.otherKeys = [teamKey];
    floraEchoesKeyFromModels();
    await start();
    const client = await connect({ Authorization: `Bearer ${teamKey}` });
    const started = structuredOf<{ run_id: string }>(
      (await client.callTool({ name: 'start_generation_run', arguments: START_WITH_MODEL })) as CallToolResult,
    );
    expect(mode.fake.runs.has(started.run_id)).toBe(true);
    // FLORA's message was logged, with the key in it hidden.
    expect(mode.logged()).toContain(CATALOG_WARNING);
    expect(mode.logged()).toContain('Key [redacted] may not read the model catalog');
    expect(mode.logged()).not.toContain(teamKey);
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
    expect(mode.fake.runs.has(started.run_id)).toBe(true);
    expect(mode.fake.requests[0]!.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
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
    expect(mode.fake.requests).toHaveLength(0);
    await expect(connect({})).rejects.toThrow();
  });

  it("uses the server's env key for keyless requests only when the operator opts in", async () => {
    await start({ env: { FLORA_API_KEY: FAKE_KEY }, useEnvKey: true });
    const client = await connect({});
    structuredOf((await client.callTool({ name: 'list_workspaces', arguments: {} })) as CallToolResult);
    expect(mode.fake.requests[0]!.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
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
    expect(mode.fake.requests).toHaveLength(0);
  });

  it('accepts the host names the operator allows, in any case, and only those', async () => {
    await start({ allowedHosts: ['MCP.Internal.example'] });
    const auth = { authorization: `Bearer ${FAKE_KEY}` };
    expect((await raw('/mcp', { body: LIST, headers: { ...auth, host: 'mcp.internal.example' } })).status).toBe(200);
    expect((await raw('/mcp', { body: LIST, headers: { ...auth, host: 'MCP.INTERNAL.EXAMPLE:8080' } })).status).toBe(200);
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
    mode.fake.otherKeys = [keyA, keyB];
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
    const listings = mode.fake.requests.filter((r) => r.path === '/projects');
    expect(listings).toHaveLength(20);
    for (const r of listings) {
      const expected = r.query.workspace_id === 'ws_studio' ? keyA : keyB;
      expect(r.headers.authorization).toBe(`Bearer ${expected}`);
    }
    const starts = mode.fake.requests.filter((r) => r.path === '/generate');
    expect(starts.map((r) => [(r.body as { workspace_id: string }).workspace_id, r.headers.authorization]).sort()).toEqual([
      ['ws_client', `Bearer ${keyB}`],
      ['ws_studio', `Bearer ${keyA}`],
    ]);
    // Both catalog refusals were logged, each with its request's key hidden.
    expect(mode.logged().split(CATALOG_WARNING)).toHaveLength(3);
    expect(mode.logged()).not.toContain(keyA);
    expect(mode.logged()).not.toContain(keyB);
  });

  it('drains on close: a call in flight is answered, new requests are refused', async () => {
    await start();
    mode.fake.route('GET /workspaces', async (_req, _res, ctx) => {
      await new Promise((r) => setTimeout(r, 400));
      return ctx.defaultReply();
    });
    const client = await connect({ Authorization: `Bearer ${FAKE_KEY}` });
    const inFlight = client.callTool({ name: 'list_workspaces', arguments: {} });
    await new Promise((r) => setTimeout(r, 100));
    const closed = mode.server().close(5_000);
    const result = (await inFlight) as CallToolResult;
    expect(result.isError).toBeUndefined();
    await closed;
    await expect(raw('/healthz', { method: 'GET' })).rejects.toThrow();
    mode.forget();
  });
});

describe('Streamable HTTP mode: spend limits', () => {
  it('refuses a run above FLORA_MAX_RUN_USD as budget_exceeded instead of asking, even a client that declares elicitation', async () => {
    await start({ env: { FLORA_MAX_RUN_USD: '0.10' } });
    const asked: unknown[] = [];
    const client = await connect({ Authorization: `Bearer ${FAKE_KEY}` }, undefined, asked);
    const i2v = { ...START_WITH_MODEL, type: 'video', model: 'i2v-kling-2.5' };
    const error = errorOf((await client.callTool({ name: 'start_generation_run', arguments: i2v })) as CallToolResult);

    expect(error).toMatchObject({ code: 'budget_exceeded', retryable: false });
    expect(error.message).toContain('it is estimated at US$0.327, above FLORA_MAX_RUN_USD (US$0.10)');
    expect(error.message).toContain('this server is reached over HTTP, whose stateless requests cannot carry a question back');
    expect(error.message).toContain('The user can raise FLORA_MAX_RUN_USD');
    expect(asked).toEqual([]);
    expect(mode.fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /models']);
  });

  it('counts FLORA_SPEND_LIMIT_USD per key across requests: one user reaching it does not stop another', async () => {
    const keyA = 'flora-team-a-51c07e';
    const keyB = 'flora-team-b-9a2f44';
    mode.fake.otherKeys = [keyA, keyB];
    await start({ env: { FLORA_SPEND_LIMIT_USD: '0.05' } });
    const a = await connect({ Authorization: `Bearer ${keyA}` });
    const b = await connect({ Authorization: `Bearer ${keyB}` });
    const startWith = (c: Client) =>
      c.callTool({ name: 'start_generation_run', arguments: START_WITH_MODEL }) as Promise<CallToolResult>;

    // Each call is its own HTTP request and MCP server: the count lives across them, per key.
    expect(structuredOf(await startWith(a))).toMatchObject({ estimated_usd: 0.04, spent_usd: 0.04, spend_limit_usd: 0.05 });
    const refused = errorOf(await startWith(a));
    expect(refused.code).toBe('budget_exceeded');
    expect(refused.message).toContain("this server's runs have already spent US$0.04 of FLORA_SPEND_LIMIT_USD (US$0.05)");
    expect(structuredOf(await startWith(b))).toMatchObject({ spent_usd: 0.04 });

    const starts = mode.fake.requests.filter((r) => r.path === '/generate').map((r) => r.headers.authorization);
    expect(starts).toEqual([`Bearer ${keyA}`, `Bearer ${keyB}`]);
    expect(mode.logged()).not.toContain(keyA);
  });
});

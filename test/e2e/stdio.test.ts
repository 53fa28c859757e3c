/**
 * End to end: the built bin (dist/src/index.js, built by `npm test`) spawned over stdio the way an
 * MCP client spawns it, against the fake FLORA.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FAKE_KEY, FakeFlora, MODELS } from '../helpers/fake-flora.js';
import { FakeProxy } from '../helpers/fake-proxy.js';
import { errorOf, GENERATE_TOOL_NAMES, structuredOf, TOOL_NAMES, VALID_CALLS, VALID_START } from '../helpers/harness.js';
import { BUNDLE } from '../helpers/paths.js';
import { decodePreview, near, quadrantsJpeg, quadrantsPng, RED, webp } from '../helpers/test-images.js';

const BIN = BUNDLE;

let fake: FakeFlora;
beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run "npm run build" (npm test does it first)`);
  fake = await FakeFlora.start();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());
afterEach(() => fake.assertAllRouted());

async function spawnClient(env: Record<string, string>, args: string[] = []): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, ...args],
    env: { FLORA_BASE_URL: fake.baseUrl, FLORA_LOG: 'debug', ...env },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const client = new Client({ name: 'e2e', version: '0' });
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

/** A raw child for what an SDK client cannot do: write garbage, read every stdout byte. */
function spawnRaw(env: Record<string, string>): {
  child: ChildProcessWithoutNullStreams;
  lines: string[];
  waitFor: (id: number) => Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, [BIN], {
    env: { PATH: process.env.PATH ?? '', FLORA_BASE_URL: fake.baseUrl, ...env },
  });
  const lines: string[] = [];
  let buf = '';
  const waiters = new Map<number, (m: Record<string, unknown>) => void>();
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(line);
      const msg = JSON.parse(line) as Record<string, unknown>;
      waiters.get(msg.id as number)?.(msg);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    waitFor: (id) => new Promise((resolve) => waiters.set(id, resolve)),
  };
}

const rpc = (id: number, method: string, params: unknown = {}) => `${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`;
const INIT = { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } };

describe('stdio server', () => {
  it('lists its tools and forwards each call to FLORA, never logging the key', async () => {
    const { client, stderr } = await spawnClient({ FLORA_API_KEY: FAKE_KEY });
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(TOOL_NAMES);

      const workspaces = structuredOf<{ workspaces: Array<{ workspace_id: string }> }>(
        (await client.callTool({ name: 'list_workspaces', arguments: {} })) as CallToolResult,
      );
      expect(workspaces.workspaces.map((w) => w.workspace_id)).toEqual(['ws_studio', 'ws_client']);
      const projects = structuredOf<{ projects: Array<{ project_id: string }>; next_cursor: string | null }>(
        (await client.callTool({ name: 'list_projects', arguments: { workspace_id: 'ws_client' } })) as CallToolResult,
      );
      expect(projects).toMatchObject({ projects: [{ project_id: 'prj_c01' }], next_cursor: null });

      const models = structuredOf<{ models: Array<{ model_id: string }> }>(
        (await client.callTool({ name: 'list_models', arguments: { type: 'image' } })) as CallToolResult,
      );
      expect(models.models.map((m) => m.model_id)).toEqual(MODELS.filter((m) => m.type === 'image').map((m) => m.model_id));

      const started = structuredOf<{ run_id: string }>(
        (await client.callTool({ name: 'start_generation_run', arguments: { ...VALID_START } })) as CallToolResult,
      );
      const run = structuredOf<{ status: string; outputs: unknown[] }>(
        (await client.callTool({ name: 'poll_run', arguments: { run_id: started.run_id } })) as CallToolResult,
      );
      expect(run.status).toBe('completed');
      expect(run.outputs).toHaveLength(1);

      expect(fake.requests.map((r) => `${r.method} ${r.rawPath}`)).toEqual([
        'GET /api/v1/workspaces',
        'GET /api/v1/projects',
        'GET /api/v1/models',
        'POST /api/v1/generate',
        `GET /api/v1/runs/${started.run_id}`,
      ]);
      expect(fake.requests.every((r) => r.headers.authorization === `Bearer ${FAKE_KEY}`)).toBe(true);
      expect(stderr()).toContain('POST /api/v1/generate -> 201');
      expect(stderr()).not.toContain(FAKE_KEY);
    } finally {
      await client.close();
    }
  });

  it('starts without a key, lists its tools, and answers every call with configuration_error', async () => {
    const { client } = await spawnClient({});
    try {
      const { tools } = await client.listTools();
      expect(tools).toHaveLength(TOOL_NAMES.length);
      for (const [name, args] of VALID_CALLS) {
        const err = errorOf((await client.callTool({ name, arguments: args })) as CallToolResult);
        expect(err.code).toBe('configuration_error');
        expect(err.message).toContain('FLORA_API_KEY');
        expect(err.message).toContain('"env"');
      }
      expect(fake.requests).toHaveLength(0);
    } finally {
      await client.close();
    }
  });

  it('uploads a local file from the bundle: its content sniffed (file-type is bundled), sent as multipart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flora-e2e-upload-'));
    const path = join(dir, 'still.png');
    writeFileSync(
      path,
      Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex'), Buffer.alloc(64)]),
    );
    writeFileSync(join(dir, 'notes.png'), 'not an image\n');
    const { client } = await spawnClient({ FLORA_API_KEY: FAKE_KEY });
    try {
      const out = structuredOf<{ status: string; url: string }>(
        (await client.callTool({
          name: 'upload_media',
          arguments: { source: path, workspace_id: 'ws_studio' },
        })) as CallToolResult,
      );
      expect(out.status).toBe('ready');
      expect(out.url).toMatch(/^https:\/\/media\.flora\.ai\//);
      const [req] = fake.requestsTo('POST', '/assets');
      expect((req!.form!.get('file') as File).type).toBe('image/png');

      const refused = errorOf(
        (await client.callTool({
          name: 'upload_media',
          arguments: { source: join(dir, 'notes.png'), workspace_id: 'ws_studio' },
        })) as CallToolResult,
      );
      expect(refused.code).toBe('source_refused');
      expect(fake.requests).toHaveLength(1);
    } finally {
      await client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('behind HTTP_PROXY, sends every FLORA call through it, a multipart upload included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flora-e2e-proxy-'));
    const png = Buffer.concat([
      Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex'),
      Buffer.alloc(64, 7),
    ]);
    writeFileSync(join(dir, 'still.png'), png);
    const proxy = await FakeProxy.start();
    const { client, stderr } = await spawnClient({ FLORA_API_KEY: FAKE_KEY, HTTP_PROXY: proxy.url() });
    try {
      const out = structuredOf<{ status: string }>(
        (await client.callTool({
          name: 'upload_media',
          arguments: { source: join(dir, 'still.png'), workspace_id: 'ws_studio' },
        })) as CallToolResult,
      );
      expect(out.status).toBe('ready');
      expect(proxy.requests.map((r) => `${r.method} ${r.target}`)).toEqual([`POST ${fake.baseUrl}/assets`]);
      const [req] = fake.requestsTo('POST', '/assets');
      expect(req!.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
      const file = req!.form!.get('file') as File;
      expect(file.type).toBe('image/png');
      expect(Buffer.from(await file.arrayBuffer()).equals(png)).toBe(true);
      expect(stderr()).not.toContain(FAKE_KEY);
    } finally {
      await client.close();
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('previews PNG, JPEG and WebP outputs from the bundle (its image code and inlined WebAssembly), without the key', async () => {
    fake.media.serve('a.png', { contentType: 'image/png', bytes: () => quadrantsPng(400, 300) });
    fake.media.serve('b.jpg', { contentType: 'image/jpeg', bytes: () => quadrantsJpeg(400, 300) });
    fake.media.serve('c.webp', { contentType: 'image/webp', bytes: () => webp('lossyAlpha') });
    fake.runPlan = {
      durationMs: 0,
      outputs: ['a.png', 'b.jpg', 'c.webp'].map((n) => ({ type: 'imageUrl', url: fake.media.url(n) })),
    };
    const { client } = await spawnClient({ FLORA_API_KEY: FAKE_KEY, FLORA_MEDIA_HOSTS: '127.0.0.1' });
    try {
      const started = structuredOf(
        (await client.callTool({ name: 'start_generation_run', arguments: VALID_START })) as CallToolResult,
      );
      const result = (await client.callTool({
        name: 'preview_media',
        arguments: { run_id: started.run_id, size: 200 },
      })) as CallToolResult;
      const images = structuredOf<{ images: Array<{ preview_width: number; preview_height: number }> }>(result).images;
      expect(images.map((i) => [i.preview_width, i.preview_height])).toEqual([
        [200, 150],
        [200, 150],
        [96, 64],
      ]);
      const previews = result.content.slice(1).map((b) => decodePreview((b as { data: string }).data));
      expect(previews.map((p) => near(p.at(0.25, 0.25), RED))).toEqual([true, true, true]);
      expect(fake.media.requests.map((r) => r.authorization)).toEqual([undefined, undefined, undefined]);
    } finally {
      await client.close();
    }
  });

  it('--toolsets wins over FLORA_TOOLSETS', async () => {
    // The env alone would list upload_media only ...
    const { client } = await spawnClient({ FLORA_API_KEY: FAKE_KEY, FLORA_TOOLSETS: 'media' }, ['--toolsets', 'generate']);
    try {
      // ... the flag offers the generation tools, and they reach FLORA.
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(GENERATE_TOOL_NAMES);
      structuredOf((await client.callTool({ name: 'list_workspaces', arguments: {} })) as CallToolResult);
      expect(fake.requests.map((r) => r.path)).toEqual(['/workspaces']);
    } finally {
      await client.close();
    }
  });

  it('survives garbage on stdin, writes only JSON-RPC to stdout, and exits when stdin closes', async () => {
    const raw = spawnRaw({ FLORA_API_KEY: FAKE_KEY });
    raw.child.stdin.write('this is not json\n{"broken json\n{"foo":"bar"}\n');
    raw.child.stdin.write(rpc(1, 'initialize', INIT));
    const init = await raw.waitFor(1);
    expect((init.result as { serverInfo: { name: string } }).serverInfo.name).toBe('flora-generation-mcp');
    raw.child.stdin.write('more garbage\n');
    raw.child.stdin.write(rpc(2, 'tools/call', { name: 'list_models', arguments: {} }));
    const listed = await raw.waitFor(2);
    const result = listed.result as CallToolResult;
    expect(result.isError).toBeUndefined();
    expect((result.structuredContent as { models: unknown[] }).models).toHaveLength(MODELS.length);

    raw.child.stdin.end();
    expect(await raw.exited).toBe(0);
    for (const line of raw.lines) expect(JSON.parse(line)).toMatchObject({ jsonrpc: '2.0' });
  });

  /** A server past initialize whose FLORA takes `delayMs` to list models. */
  async function serverWithSlowModels(delayMs: number) {
    fake.route('GET /models', async (_req, _res, ctx) => {
      await new Promise((r) => setTimeout(r, delayMs));
      return ctx.defaultReply();
    });
    const raw = spawnRaw({ FLORA_API_KEY: FAKE_KEY });
    raw.child.stdin.write(rpc(1, 'initialize', INIT));
    await raw.waitFor(1);
    return raw;
  }

  it('answers a call that is in flight when stdin closes, then exits', async () => {
    const raw = await serverWithSlowModels(300);
    const answered = raw.waitFor(2);
    raw.child.stdin.end(rpc(2, 'tools/call', { name: 'list_models', arguments: {} }));
    const msg = await answered;
    expect((msg.result as CallToolResult).isError).toBeUndefined();
    expect(await raw.exited).toBe(0);
  });

  it('on SIGTERM finishes the call in flight and writes its answer before exiting', async () => {
    const raw = await serverWithSlowModels(400);
    const answered = raw.waitFor(2);
    raw.child.stdin.write(rpc(2, 'tools/call', { name: 'list_models', arguments: {} }));
    await new Promise((r) => setTimeout(r, 100));
    raw.child.kill('SIGTERM');
    const msg = await answered;
    expect((msg.result as CallToolResult).isError).toBeUndefined();
    expect(await raw.exited).toBe(0);
  });

  it('exits cleanly on SIGTERM', async () => {
    const raw = spawnRaw({ FLORA_API_KEY: FAKE_KEY });
    raw.child.stdin.write(rpc(1, 'initialize', INIT));
    await raw.waitFor(1);
    raw.child.kill('SIGTERM');
    expect(await raw.exited).toBe(0);
  });
});

/**
 * The compile cache (src/compile-cache.ts) as a user meets it: the built bin and dist/lib/ copied
 * to a folder of their own, started over stdio by an SDK client, the way an MCP client does. The
 * first start writes a cache beside the code, later starts use it, and whatever is wrong with it
 * (damaged, stale, unwritable, turned off) costs speed only, never a tool.
 */
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { runWithCompileCache } from '../../src/compile-cache.js';
import { FAKE_KEY, type FakeFlora } from '../helpers/fake-flora.js';
import { structuredOf, TOOL_NAMES, useFakeFlora } from '../helpers/harness.js';
import { BUNDLE } from '../helpers/paths.js';

let fake: FakeFlora;
useFakeFlora((f) => (fake = f));

/** A fresh install: the bin and dist/lib/ in a folder of their own, no cache yet. */
function install(): { dir: string; bin: string; cacheDir: string; hash: (file: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), 'flora-cache-'));
  const bin = join(dir, 'flora-generation-mcp.cjs');
  copyFileSync(BUNDLE, bin);
  cpSync(join(BUNDLE, '..', 'lib'), join(dir, 'lib'), { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, 'lib', 'manifest.json'), 'utf8')) as Record<string, string>;
  return { dir, bin, cacheDir: join(dir, '.v8-cache'), hash: (file) => manifest[file]! };
}

interface Started {
  client: Client;
  stderr: () => string;
  /** Resolves once stderr contains `text` (the cache is written 2 s after the server ran). */
  waitForLog: (text: string) => Promise<void>;
}

async function start(bin: string, env: Record<string, string> = {}): Promise<Started> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [bin],
    env: { FLORA_API_KEY: FAKE_KEY, FLORA_BASE_URL: fake.baseUrl, FLORA_LOG: 'debug', ...env },
    stderr: 'pipe',
  });
  let stderr = '';
  const waiting: Array<{ text: string; resolve: () => void }> = [];
  transport.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const w of waiting.filter((x) => stderr.includes(x.text))) w.resolve();
  });
  const client = new Client({ name: 'cache-test', version: '0' });
  await client.connect(transport);
  return {
    client,
    stderr: () => stderr,
    waitForLog: (text) => (stderr.includes(text) ? Promise.resolve() : new Promise((resolve) => waiting.push({ text, resolve }))),
  };
}

/** What an agent would notice if the server were broken: its tools, and a call that reaches FLORA. */
async function serves(client: Client): Promise<void> {
  const { tools } = await client.listTools();
  expect(tools.map((t) => t.name)).toEqual(TOOL_NAMES);
  const out = structuredOf<{ workspaces: Array<{ workspace_id: string }> }>(
    (await client.callTool({ name: 'list_workspaces', arguments: {} })) as CallToolResult,
  );
  expect(out.workspaces.map((w) => w.workspace_id)).toEqual(['ws_studio', 'ws_client']);
}

const cacheFiles = (cacheDir: string, file: string) =>
  existsSync(cacheDir) ? readdirSync(cacheDir).filter((f) => f.startsWith(`${file}-`)) : [];

describe('the compile cache, through the built bin', () => {
  it('is written by the first start and used by the next, which serves the same tools', async () => {
    const { bin, cacheDir, hash } = install();
    const first = await start(bin);
    await serves(first.client);
    const firstTools = await first.client.listTools();
    await first.waitForLog('compile cache: server.cjs: written');
    await first.client.close();
    expect(first.stderr()).toContain('compile cache: server.cjs: missing');
    const [cache] = cacheFiles(cacheDir, 'server.cjs');
    // Named by the file's build hash and this Node: a rebuilt file or another Node never meets it.
    expect(cache).toMatch(new RegExp(`^server\\.cjs-${hash('server.cjs')}-${process.version}-${process.arch}-[0-9a-f]{8}\\.v8$`));

    const second = await start(bin);
    await serves(second.client);
    expect(await second.client.listTools()).toEqual(firstTools);
    await second.client.close();
    expect(second.stderr()).toContain('compile cache: server.cjs: accepted');
    expect(second.stderr()).not.toContain('written');
    expect(cacheFiles(cacheDir, 'server.cjs')).toEqual([cache]);
  }, 30_000);

  it('a damaged cache is rejected and replaced, and the server serves as without it', async () => {
    const { bin, cacheDir } = install();
    const first = await start(bin);
    await first.waitForLog('compile cache: server.cjs: written');
    await first.client.close();
    const [cache] = cacheFiles(cacheDir, 'server.cjs');
    const garbage = Buffer.alloc(readFileSync(join(cacheDir, cache!)).length, 0x5a);
    writeFileSync(join(cacheDir, cache!), garbage);

    const second = await start(bin);
    await serves(second.client);
    await second.waitForLog('compile cache: server.cjs: written');
    await second.client.close();
    expect(second.stderr()).toContain('compile cache: server.cjs: rejected');
    expect(readFileSync(join(cacheDir, cache!)).equals(garbage)).toBe(false);
  }, 30_000);

  it("removes older builds' caches of a file when it writes one, and keeps other runtimes'", async () => {
    const { bin, cacheDir, hash } = install();
    const first = await start(bin);
    await first.waitForLog('compile cache: server.cjs: written');
    await first.client.close();
    const [cache] = cacheFiles(cacheDir, 'server.cjs');
    const runtime = cache!.slice(`server.cjs-${hash('server.cjs')}-`.length);
    const oldBuild = `server.cjs-0123456789abcdef-${runtime}`;
    const otherNode = `server.cjs-${hash('server.cjs')}-v0.0.0-${process.arch}-00000000.v8`;
    writeFileSync(join(cacheDir, oldBuild), 'old');
    writeFileSync(join(cacheDir, otherNode), 'other');
    writeFileSync(join(cacheDir, cache!), 'damaged'); // so the next start writes again

    const second = await start(bin);
    await second.waitForLog('compile cache: server.cjs: written');
    await second.client.close();
    expect(cacheFiles(cacheDir, 'server.cjs').sort()).toEqual([cache, otherNode].sort());
  }, 30_000);

  it('where the cache cannot be written, the server says so at debug level and serves anyway', async () => {
    const { bin, cacheDir } = install();
    writeFileSync(cacheDir, 'a file where the cache directory would be');
    const s = await start(bin);
    await serves(s.client);
    await s.waitForLog('compile cache: server.cjs: not written');
    await s.client.close();
    expect(s.stderr()).toMatch(/compile cache: server\.cjs: not written \(.+\); runs without it/);
    expect(readFileSync(cacheDir, 'utf8')).toBe('a file where the cache directory would be');
  }, 30_000);

  it('NODE_DISABLE_COMPILE_CACHE=1 reads and writes no cache', async () => {
    const { bin, cacheDir } = install();
    const s = await start(bin, { NODE_DISABLE_COMPILE_CACHE: '1' });
    await serves(s.client);
    // Past the moment a cache would be written (2 s after the start).
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await s.client.close();
    expect(s.stderr()).toContain('compile cache: server.cjs: uncached');
    expect(existsSync(cacheDir)).toBe(false);
  }, 30_000);

  it('without FLORA_LOG=debug it writes nothing about the cache to stderr', async () => {
    const { bin } = install();
    const s = await start(bin, { FLORA_LOG: 'warn' });
    await serves(s.client);
    await s.client.close();
    expect(s.stderr()).not.toContain('compile cache');
  }, 30_000);
});

describe('runWithCompileCache, the loader itself', () => {
  function lib(files: Record<string, string>, manifest?: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'flora-lib-'));
    for (const [name, code] of Object.entries(files)) writeFileSync(join(dir, name), code);
    if (manifest) writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    return dir;
  }

  it('serves "./x.cjs" from the same folder once per file, cycles as in Node, and the rest from Node', () => {
    const libDir = lib({
      'a.cjs':
        '#!/usr/bin/env node\nexports.early = 1; const b = require("./b.cjs"); exports.b = b; exports.sep = require("node:path").sep; exports.again = require("./b.cjs") === b;',
      'b.cjs': 'const a = require("./a.cjs"); module.exports = { sawEarly: a.early, file: __filename };',
    });
    const events: string[] = [];
    const out = runWithCompileCache('a.cjs', {
      libDir,
      cacheDir: undefined,
      writeAfterMs: 0,
      onEvent: (e) => events.push(`${e.file} ${e.kind}`),
    }) as Record<string, unknown>;
    expect(out).toMatchObject({ early: 1, sep: '/', again: true, b: { sawEarly: 1, file: join(libDir, 'b.cjs') } });
    expect(events).toEqual(['a.cjs uncached', 'b.cjs uncached']);
  });

  it('a file the manifest does not name, or no manifest at all, runs without a cache', async () => {
    const libDir = lib({ 'a.cjs': 'module.exports = 42;' }, { 'other.cjs': '0000' });
    const cacheDir = join(libDir, 'cache');
    const events: string[] = [];
    expect(runWithCompileCache('a.cjs', { libDir, cacheDir, writeAfterMs: 0, onEvent: (e) => events.push(e.kind) })).toBe(42);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(events).toEqual(['uncached']);
    expect(existsSync(cacheDir)).toBe(false);
  });
});

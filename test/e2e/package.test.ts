/**
 * The package as a user gets it: `npm pack`, installed into an empty folder with no network (the
 * bundle has no runtime dependencies), and the installed bin driven over stdio and as a CLI.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { FAKE_KEY, type FakeFlora } from '../helpers/fake-flora.js';
import { FakeProxy } from '../helpers/fake-proxy.js';
import { structuredOf, TOOL_NAMES, useFakeFlora } from '../helpers/harness.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

let fake: FakeFlora;
useFakeFlora((f) => (fake = f));

let bin: string;
let tarballFiles: string[];

beforeAll(async () => {
  const work = mkdtempSync(join(tmpdir(), 'flora-pack-'));
  // dist/ is built by `npm test` before vitest runs; --ignore-scripts keeps pack from rebuilding
  // it under the other test files' feet.
  const packed = await run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT });
  const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarballFiles = info!.files.map((f) => f.path).sort();
  const app = join(work, 'app');
  await run('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  await run(npm, ['install', '--offline', '--no-audit', '--no-fund', join(work, info!.filename)], { cwd: app });
  bin = join(app, 'node_modules', '.bin', 'flora-generation-mcp');
}, 120_000);

/** Runs the installed bin (asynchronously: the fake FLORA answers from this same process). */
async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const r = await run(bin, args, { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the packed package', () => {
  it('ships the bin entry and the server it runs, and nothing it does not need (no compile cache)', () => {
    expect(tarballFiles).toEqual([
      'README.md',
      'dist/flora-generation-mcp.cjs',
      'dist/lib/file-type.cjs',
      'dist/lib/http.cjs',
      'dist/lib/manifest.json',
      'dist/lib/preview-image.cjs',
      'dist/lib/proxy-agent.cjs',
      'dist/lib/rolldown-runtime.cjs',
      'dist/lib/server.cjs',
      'package.json',
    ]);
  });

  it('installs with no network and serves MCP over stdio from its bin', async () => {
    expect(readdirSync(join(bin, '..', '..'))).toEqual(expect.arrayContaining(['flora-generation-mcp']));
    const transport = new StdioClientTransport({
      command: bin,
      env: { FLORA_API_KEY: FAKE_KEY, FLORA_BASE_URL: fake.baseUrl },
    });
    const client = new Client({ name: 'pack-test', version: '0' });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(TOOL_NAMES);
      const out = structuredOf<{ workspaces: Array<{ workspace_id: string }> }>(
        (await client.callTool({ name: 'list_workspaces', arguments: {} })) as CallToolResult,
      );
      expect(out.workspaces.map((w) => w.workspace_id)).toEqual(['ws_studio', 'ws_client']);
      expect(fake.requests.map((r) => `${r.method} ${r.rawPath}`)).toEqual(['GET /api/v1/workspaces']);
    } finally {
      await client.close();
    }
  });

  it('answers --version and --help on stdout, and a usage error for an unknown flag', async () => {
    const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as { version: string };
    expect(await cli(['--version'])).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--check');
    expect(help.stdout).toContain('FLORA_API_KEY');
    const bad = await cli(['--verbose']);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain("Unknown option '--verbose'");
  });

  it('--check lists the workspaces the key reaches', async () => {
    const r = await cli(['--check'], { FLORA_API_KEY: FAKE_KEY, FLORA_BASE_URL: fake.baseUrl });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('OK:');
    expect(r.stdout).toContain('ws_studio  Studio (owner)');
    expect(r.stdout).toContain('ws_client  Client work (member)');
    expect(fake.requests.map((q) => q.path)).toEqual(['/workspaces']);
  });

  it('behind a proxy, --check goes through it (undici, shipped as dist/lib/proxy-agent.cjs, loads) and names it', async () => {
    const proxy = await FakeProxy.start();
    try {
      proxy.credentials = 'corp:s3cret';
      const r = await cli(['--check'], {
        FLORA_API_KEY: FAKE_KEY,
        FLORA_BASE_URL: fake.baseUrl,
        HTTP_PROXY: proxy.url('corp:s3cret'),
      });
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toContain(`Proxy: ${proxy.url()} (from HTTP_PROXY, with credentials).`);
      expect(r.stdout).not.toContain('s3cret');
      expect(proxy.requests.map((q) => `${q.method} ${q.target}`)).toEqual([`GET ${fake.baseUrl}/workspaces`]);
      expect(fake.requests.map((q) => q.headers.authorization)).toEqual([`Bearer ${FAKE_KEY}`]);
    } finally {
      await proxy.close();
    }
  });

  it('--check names the exact reason it cannot reach FLORA, and exits non-zero', async () => {
    const missing = await cli(['--check'], { FLORA_BASE_URL: fake.baseUrl });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('FLORA_API_KEY is not set');

    const wrongKey = await cli(['--check'], { FLORA_API_KEY: 'sk_live_wrong_key_123', FLORA_BASE_URL: fake.baseUrl });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stdout).toContain('the API key was refused (invalid_api_key)');
    expect(wrongKey.stdout).not.toContain('sk_live_wrong_key_123');

    const wrongBase = await cli(['--check'], { FLORA_API_KEY: FAKE_KEY, FLORA_BASE_URL: `${fake.origin}/v2` });
    expect(wrongBase.code).toBe(1);
    expect(wrongBase.stdout).toContain('does not answer like the FLORA API');
    expect(wrongBase.stdout).toContain('FLORA_BASE_URL');
    fake.unrouted.length = 0; // that request was the point

    const unreachable = await cli(['--check'], {
      FLORA_API_KEY: FAKE_KEY,
      FLORA_BASE_URL: 'http://127.0.0.1:9/api/v1',
      FLORA_MAX_RETRIES: '0',
    });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stdout).toContain('could not reach FLORA (network_error)');

    const invalid = await cli(['--check'], { FLORA_API_KEY: FAKE_KEY, FLORA_TIMEOUT_MS: 'soon' });
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toContain('FLORA_TIMEOUT_MS');
  });
});

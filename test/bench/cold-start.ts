/**
 * Cold start as an MCP client sees it: from spawn to the answer to tools/list, and resident
 * memory right after, compared in one run with a bare `node -e 0` and with the smallest SDK
 * server bundled the same way. The server is measured as a user meets it on every start after
 * the first (its compile cache written by an earlier start, src/compile-cache.ts) and on the
 * first (NODE_DISABLE_COMPILE_CACHE=1: compiled from source, as before any cache exists).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { percentile, rssMiB } from '../helpers/measure.js';
import { bundleFloor, installCachedFloor } from './floor.js';

const INIT = { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '0' } };
const line = (id: number, method: string, params: unknown = {}) => `${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`;

type Env = Record<string, string | undefined>;
const FLORA = { FLORA_API_KEY: 'sk_live_bench', FLORA_LOG: 'off' };
/**
 * Every subject in a round gets the same environment. Two rounds: a minimal one (PATH only, as
 * the SDK's stdio client gives servers) and this machine's own, which sets NODE_EXTRA_CA_CERTS:
 * that alone adds about 40 ms to any node start here, so it moves every ratio.
 */
const ENVS: Record<string, Env> = {
  'minimal env (PATH only)': { PATH: process.env.PATH ?? '', ...FLORA },
  "this machine's env (NODE_EXTRA_CA_CERTS set)": { ...process.env, ...FLORA },
};

/** ms from spawn to exit of `node -e 0`. */
function bareNode(ENV: Env): Promise<number> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    spawn(process.execPath, ['-e', '0'], { env: ENV }).on('exit', () => resolve(performance.now() - t0));
  });
}

interface Subject {
  script: string;
  env?: Env;
}

/** ms from spawn to the tools/list answer, and RSS then. */
function toToolsList(subject: Subject, ENV: Env): Promise<{ ms: number; rss: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [subject.script], { env: { ...ENV, ...subject.env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"id":2')) {
        const ms = performance.now() - t0;
        const rss = rssMiB(child.pid!);
        child.kill();
        resolve({ ms, rss });
      }
    });
    child.on('error', reject);
    child.stdin.write(line(1, 'initialize', INIT) + line(2, 'tools/list'));
  });
}

const median = (xs: number[]) => percentile(xs, 50);

/**
 * One start that lives past the moment the server writes its compile cache (2 s after it ran),
 * so the cached subject is measured as a user meets it on every start after the first; the
 * cache is checked, not assumed: FLORA_LOG=debug says whether it was written or was there.
 */
function warmCompileCache(script: string, ENV: Env): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { env: { ...ENV, FLORA_LOG: 'debug' } });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', () =>
      /compile cache: server\.cjs: (written|accepted)/.test(err) ? resolve() : reject(new Error(`no compile cache:\n${err}`)),
    );
    child.on('error', reject);
    child.stdin.write(line(1, 'initialize', INIT) + line(2, 'tools/list'));
    setTimeout(() => child.stdin.end(), 2_500);
  });
}

export async function coldStart(runs = 20): Promise<void> {
  const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
  const floor = await bundleFloor('min-server');
  const cachedFloor = await installCachedFloor();
  const bin = here('../../flora-generation-mcp.cjs');
  const subjects: Record<string, Subject> = {
    'this server (bundle, compile cache)': { script: bin },
    'this server (bundle, first start)': { script: bin, env: { NODE_DISABLE_COMPILE_CACHE: '1' } },
    'this server (tsc output, unbundled)': { script: here('../../src/index.js') },
    'smallest SDK server (bundle)': { script: floor },
    'smallest SDK server (compile cache)': { script: cachedFloor },
  };
  for (const [envName, env] of Object.entries(ENVS)) {
    await warmCompileCache(bin, env);
    await warmCompileCache(cachedFloor, env);
    const bare: number[] = [];
    const samples = new Map<string, Array<{ ms: number; rss: number }>>(Object.keys(subjects).map((k) => [k, []]));
    // Interleaved, so load on this shared machine hits every subject alike.
    for (let i = 0; i < runs; i++) {
      bare.push(await bareNode(env));
      for (const [name, subject] of Object.entries(subjects)) samples.get(name)!.push(await toToolsList(subject, env));
    }
    const base = median(bare);
    console.log(`\ncold start, ${envName}: spawn to tools/list answer, median of ${runs} interleaved runs`);
    console.log(`  ${'node -e 0'.padEnd(38)}  ${base.toFixed(1)} ms   1.00x`);
    for (const [name, xs] of samples) {
      const ms = median(xs.map((x) => x.ms));
      const rss = median(xs.map((x) => x.rss));
      console.log(`  ${name.padEnd(38)}  ${ms.toFixed(1)} ms   ${(ms / base).toFixed(2)}x   RSS ${rss.toFixed(1)} MiB`);
    }
  }
  console.log('target: this server (bundle) <= 1.8x node -e 0 and <= 55 MiB');
  console.log('(tsc output: the same code as separate ES modules, no bundle and no compile cache)');
}

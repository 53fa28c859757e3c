/**
 * The floors the bench compares this server with: the smallest servers the MCP SDK allows
 * (min-server.ts for cold start, min-call-server.ts for a tool call), bundled the way the real
 * server is, into dist/test/bench/.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';
import { BUNDLE } from '../helpers/paths.js';

type Floor = 'min-server' | 'min-call-server';

/** Bundles test/bench/<name>.ts into `file`, minified in one file, as the real server is. */
async function buildFloor(name: Floor, file: string, format: 'esm' | 'cjs'): Promise<void> {
  await build({
    input: fileURLToPath(new URL(`../../../test/bench/${name}.ts`, import.meta.url)),
    platform: 'node',
    logLevel: 'silent',
    output: { file, format, minify: true, codeSplitting: false },
  });
}

/** Bundles test/bench/<name>.ts to dist/test/bench/<name>.bundle.js and returns its path. */
export async function bundleFloor(name: Floor): Promise<string> {
  const file = fileURLToPath(new URL(`./${name}.bundle.js`, import.meta.url));
  await buildFloor(name, file, 'esm');
  return file;
}

/**
 * The cold-start floor as this server runs: min-server.ts built as CommonJS into an install of its
 * own (dist/test/bench/floor-cached/lib/server.cjs, with its manifest), beside a copy of this
 * server's bin, which runs it through the same compile cache. Returns that bin's path.
 */
export async function installCachedFloor(): Promise<string> {
  const dir = fileURLToPath(new URL('./floor-cached/', import.meta.url));
  rmSync(dir, { recursive: true, force: true });
  const lib = join(dir, 'lib');
  mkdirSync(lib, { recursive: true });
  await buildFloor('min-server', join(lib, 'server.cjs'), 'cjs');
  const hash = createHash('sha256')
    .update(readFileSync(join(lib, 'server.cjs')))
    .digest('hex')
    .slice(0, 16);
  writeFileSync(join(lib, 'manifest.json'), JSON.stringify({ 'server.cjs': hash }));
  const bin = join(dir, 'flora-generation-mcp.cjs');
  copyFileSync(BUNDLE, bin);
  return bin;
}

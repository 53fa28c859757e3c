/**
 * The floors the bench compares this server with: the smallest servers the MCP SDK allows
 * (min-server.ts for cold start, min-call-server.ts for a tool call), bundled the way the real
 * server is, into dist/test/bench/.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

/** Bundles test/bench/<name>.ts to dist/test/bench/<name>.bundle.js and returns its path. */
export async function bundleFloor(name: 'min-server' | 'min-call-server'): Promise<string> {
  const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
  const file = here(`./${name}.bundle.js`);
  await build({
    input: here(`../../../test/bench/${name}.ts`),
    platform: 'node',
    logLevel: 'silent',
    output: { file, format: 'esm', minify: true, codeSplitting: false },
  });
  return file;
}

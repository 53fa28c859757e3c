#!/usr/bin/env node
/**
 * The bin entry (dist/flora-generation-mcp.cjs): runs the server, dist/lib/server.cjs, through
 * V8's code cache (see compile-cache.ts), which roughly halves the time from spawn to the first
 * tools/list answer after the first start. Everything else (argv, env, stdio) is the server's.
 */
import { fileURLToPath } from 'node:url';
import { type CacheEvent, runWithCompileCache } from './compile-cache.js';

const disabled = /^(1|true)$/i.test(process.env.NODE_DISABLE_COMPILE_CACHE ?? '');
const debug = process.env.FLORA_LOG?.trim().toLowerCase() === 'debug';

runWithCompileCache('server.cjs', {
  libDir: fileURLToPath(new URL('./lib/', import.meta.url)),
  cacheDir: disabled ? undefined : fileURLToPath(new URL('./.v8-cache/', import.meta.url)),
  writeAfterMs: 2_000,
  onEvent: debug
    ? (e: CacheEvent) => process.stderr.write(`${new Date().toISOString()} flora-mcp debug: compile cache: ${describe(e)}\n`)
    : undefined,
});

function describe(e: CacheEvent): string {
  return e.kind === 'write-failed' ? `${e.file}: not written (${e.reason}); runs without it` : `${e.file}: ${e.kind}`;
}

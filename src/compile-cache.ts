/**
 * Runs the server's CommonJS files (dist/lib/*.cjs) through V8's code cache, so a start after the
 * first skips parsing and compiling ~0.5 MB of JavaScript: what Node 22's
 * `module.enableCompileCache()` does, which Node 20 does not have. Measured by `npm run bench`.
 *
 * - Each file is compiled with `vm.Script` and the `cachedData` V8 wrote for it before. The cache
 *   is named by the file's content hash (dist/lib/manifest.json, written by the build), Node's
 *   version, the CPU architecture and the flags Node runs with, so a rebuilt file, another Node
 *   or other V8 flags never meet a stale cache; V8 itself also rejects a cache that does not fit
 *   its version and flags, and the file is then compiled from source as without a cache.
 * - A file compiled without a usable cache gets one written a little after it ran (by then the
 *   functions it ran are compiled too, so they are in the cache): written to a temporary name and
 *   renamed into place, so concurrent servers never read a half-written cache. Caches of the same
 *   file from older builds are removed then. Making it holds the server's thread once, for about
 *   40 ms (server.cjs on this project's machine).
 * - The cache lives next to the code (dist/.v8-cache), with the code's owner and permissions, so
 *   whoever can change it could change the code itself. Where that directory cannot be written
 *   (a read-only install), the server runs as without a cache. `NODE_DISABLE_COMPILE_CACHE=1`
 *   (Node 22's variable) turns it off.
 *
 * This module runs before the server, so it imports no server module and never writes to stdout.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';

export interface CompileCacheOptions {
  /** Where the *.cjs files and manifest.json are. */
  libDir: string;
  /** Where caches are read and written; undefined: none. */
  cacheDir: string | undefined;
  /** How long after a file ran its cache is written (the timer never holds the process open). */
  writeAfterMs: number;
  /** What happened to each file's cache, for tests and FLORA_LOG=debug. */
  onEvent?: (event: CacheEvent) => void;
}

export type CacheEvent =
  | { file: string; kind: 'accepted' | 'rejected' | 'missing' | 'written' | 'uncached' }
  | { file: string; kind: 'write-failed'; reason: string };

/** What a cache must match besides the file: Node, the CPU, and the flags V8 runs with. */
export function runtimeKey(): string {
  const flags = `${process.execArgv.join(' ')}|${process.env.NODE_OPTIONS ?? ''}`;
  return `${process.version}-${process.arch}-${fnv1a(flags)}`;
}

/** A short, stable hash of a string (FNV-1a, 32 bits): enough to tell flag sets apart. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** The cache file for one build of one file under this runtime. */
export function cacheFileName(file: string, hash: string, runtime = runtimeKey()): string {
  return `${file}-${hash}-${runtime}.v8`;
}

/** CommonJS's wrapper; kept on one line with the source's first, so line numbers stay true. */
const wrap = (source: string) => `(function (exports, require, module, __filename, __dirname) {${source}\n})`;

/**
 * Loads `entry` (a file name in libDir) as CommonJS and returns its exports. A `require` of
 * "./name.cjs" from these files is served the same way (one instance per file, cycles as in
 * Node); anything else goes to Node's own require.
 */
export function runWithCompileCache(entry: string, options: CompileCacheOptions): unknown {
  const { libDir, cacheDir, writeAfterMs, onEvent = () => {} } = options;
  const hashes = readManifest(libDir);
  const nodeRequire = createRequire(join(libDir, entry));
  const loaded = new Map<string, { exports: unknown }>();

  const localRequire = Object.assign(
    (id: string): unknown => {
      if (id.startsWith('./') && id.endsWith('.cjs') && !id.includes('/', 2)) return load(id.slice(2));
      return nodeRequire(id);
    },
    { resolve: nodeRequire.resolve, cache: nodeRequire.cache },
  );

  function load(name: string): unknown {
    const done = loaded.get(name);
    if (done) return done.exports;
    const filename = join(libDir, name);
    const source = readFileSync(filename, 'utf8').replace(/^#!.*/, '');
    const hash = hashes[name];
    const cacheFile = cacheDir !== undefined && hash !== undefined ? join(cacheDir, cacheFileName(name, hash)) : undefined;
    const cachedData = cacheFile === undefined ? undefined : readIfPresent(cacheFile);
    const script = new Script(wrap(source), { filename, cachedData });
    const kind =
      cacheFile === undefined
        ? 'uncached'
        : cachedData === undefined
          ? 'missing'
          : script.cachedDataRejected
            ? 'rejected'
            : 'accepted';
    onEvent({ file: name, kind });

    const module = { exports: {} as unknown };
    loaded.set(name, module);
    const fn = script.runInThisContext() as (...args: unknown[]) => void;
    fn.call(module.exports, module.exports, localRequire, module, filename, libDir);

    if (cacheDir !== undefined && cacheFile !== undefined && kind !== 'accepted') {
      setTimeout(() => writeCache(script, { cacheDir, cacheFile, name, hash: hash as string }, onEvent), writeAfterMs).unref();
    }
    return module.exports;
  }

  return load(entry);
}

function readManifest(libDir: string): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(join(libDir, 'manifest.json'), 'utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, string>) : {};
  } catch {
    return {}; // No manifest: every file runs uncached, as before there was a cache.
  }
}

function readIfPresent(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

interface CacheTarget {
  cacheDir: string;
  cacheFile: string;
  /** The file's name in libDir, and its build's hash. */
  name: string;
  hash: string;
}

function writeCache(script: Script, { cacheDir, cacheFile, name, hash }: CacheTarget, onEvent: (e: CacheEvent) => void): void {
  const temp = `${cacheFile}.${process.pid}.tmp`;
  try {
    const data = script.createCachedData();
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(temp, data);
    renameSync(temp, cacheFile);
    onEvent({ file: name, kind: 'written' });
  } catch (err) {
    removeQuietly(temp);
    onEvent({ file: name, kind: 'write-failed', reason: err instanceof Error ? err.message : String(err) });
    return;
  }
  // Older builds' caches of this file are of no further use.
  try {
    for (const other of readdirSync(cacheDir)) {
      if (other.startsWith(`${name}-`) && !other.startsWith(`${name}-${hash}-`)) removeQuietly(join(cacheDir, other));
    }
  } catch {
    // The directory went away meanwhile: nothing left to tidy.
  }
}

/** A cache is optional: failing to remove one (another server removed it first) changes nothing. */
function removeQuietly(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch {}
}

// The build (npm run build) writes two things:
// - dist/lib/: the server, src/index.ts and everything it imports, as CommonJS files: server.cjs,
//   and one file for each part loaded on first use, which a server that never needs it neither
//   parses nor holds: http.cjs (--transport http, with Node's http and http2), proxy-agent.cjs
//   (undici, on the first proxied request), preview-image.cjs (preview_media's codecs),
//   file-type.cjs (upload_media of a local file). CommonJS because V8 can cache the compiled code
//   of a script, not of an ES module, on Node 20 (src/compile-cache.ts). manifest.json holds each
//   file's content hash, which names its cache.
// - dist/flora-generation-mcp.cjs: the bin entry (src/launch.ts), which runs dist/lib/server.cjs
//   through that cache. CommonJS too: it starts a little faster than an ES module, and it runs as
//   is where no package.json says "type": "module" (the .mcpb bundle's server/index.js).
import { createHash } from 'node:crypto';
import { defineConfig } from 'rolldown';
import { wasmBytes } from './build/wasm-bytes.mjs';

const common = { platform: 'node', logLevel: 'warn' };

/** Emits manifest.json: each chunk's file name and a hash of its final code. */
function manifest() {
  return {
    name: 'compile-cache-manifest',
    generateBundle(_options, bundle) {
      const hashes = {};
      for (const [file, out] of Object.entries(bundle)) {
        if (out.type === 'chunk') hashes[file] = createHash('sha256').update(out.code).digest('hex').slice(0, 16);
      }
      this.emitFile({ type: 'asset', fileName: 'manifest.json', source: `${JSON.stringify(hashes, null, 2)}\n` });
    },
  };
}

export default defineConfig([
  {
    ...common,
    input: { server: 'src/index.ts' },
    plugins: [wasmBytes(), manifest()],
    output: {
      dir: 'dist/lib',
      format: 'cjs',
      minify: true,
      entryFileNames: '[name].cjs',
      chunkFileNames: '[name].cjs',
      cleanDir: true,
    },
  },
  {
    ...common,
    input: 'src/launch.ts',
    output: { file: 'dist/flora-generation-mcp.cjs', format: 'cjs', minify: true, codeSplitting: false },
  },
]);

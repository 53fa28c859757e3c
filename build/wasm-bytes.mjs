// `import bytes from 'x.wasm'` as a Uint8Array, for the bundle (rolldown.config.mjs) and the tests
// (vitest.config.mjs) alike: preview_media's WebP decoder. The bytes go in gzipped, as base64, and
// are inflated when the module is first evaluated (on the first preview_media call): the bundle's
// source, which the server holds in memory from its start, carries 56 KB instead of 127 KB.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

export function wasmBytes() {
  return {
    name: 'wasm-bytes',
    enforce: 'pre',
    load(id) {
      if (!id.endsWith('.wasm')) return undefined;
      const base64 = gzipSync(readFileSync(id), { level: 9 }).toString('base64');
      const code = [
        "import { gunzipSync } from 'node:zlib';",
        `export default new Uint8Array(gunzipSync(Buffer.from(${JSON.stringify(base64)}, 'base64')));`,
      ].join('\n');
      return { code, moduleType: 'js' };
    },
  };
}

// `import bytes from 'x.wasm'` as a Uint8Array in vitest, as rolldown's `--moduleTypes .wasm:binary`
// gives it in the bundle (the WebP decoder of preview_media).
import { readFileSync } from 'node:fs';

export function wasmBytes() {
  return {
    name: 'wasm-bytes',
    enforce: 'pre',
    load(id) {
      if (!id.endsWith('.wasm')) return undefined;
      const base64 = readFileSync(id).toString('base64');
      return `export default new Uint8Array(Buffer.from(${JSON.stringify(base64)}, 'base64'));`;
    },
  };
}

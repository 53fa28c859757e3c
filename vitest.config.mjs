// `npm test` runs `vitest run --dir test` with this config: the .wasm loader the bundle has too
// (build/wasm-bytes.mjs), for the WebP decoder preview_media imports from node_modules.
import { defineConfig } from 'vitest/config';
import { wasmBytes } from './build/wasm-bytes.mjs';

// maxWorkers 3: on 2 cores vitest's default runs one file at a time, and most test time is waiting
// (runs, polls, the soak's servers), so three files at once take the suite from ~210 s to ~90 s.
export default defineConfig({
  plugins: [wasmBytes()],
  test: { maxWorkers: 3, server: { deps: { inline: ['@cwasm/webp'] } } },
});

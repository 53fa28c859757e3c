// `npm test` runs `vitest run --dir test` with this config: the .wasm loader the bundle has too
// (build/wasm-bytes.mjs), for the WebP decoder preview_media imports from node_modules.
import { defineConfig } from 'vitest/config';
import { wasmBytes } from './build/wasm-bytes.mjs';

export default defineConfig({ plugins: [wasmBytes()], test: { server: { deps: { inline: ['@cwasm/webp'] } } } });

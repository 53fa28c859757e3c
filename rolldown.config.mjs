// The bundle (npm run build): src/index.ts and everything it imports, in one ESM file. Code loaded
// on first use (dynamic imports) is inlined too, evaluated only when first needed; two exceptions
// are files of their own, which a server that never needs them neither parses nor holds: undici's
// proxy agent (dist/proxy-agent.js, loaded only when a proxy is set) and preview_media's image
// code (dist/preview-image.js, loaded on the first preview). Each imports none of the server's
// modules, so no class of the server is copied into them.
import { defineConfig } from 'rolldown';
import { wasmBytes } from './build/wasm-bytes.mjs';

const common = { platform: 'node', logLevel: 'warn' };

export default defineConfig([
  {
    ...common,
    input: 'src/index.ts',
    plugins: [wasmBytes()],
    external: ['./proxy-agent.js', './preview-image.js'],
    makeAbsoluteExternalsRelative: false,
    output: { file: 'dist/flora-generation-mcp.js', format: 'esm', minify: true, codeSplitting: false },
  },
  {
    ...common,
    input: 'src/flora/proxy-agent.ts',
    output: { file: 'dist/proxy-agent.js', format: 'esm', minify: true, codeSplitting: false },
  },
  {
    ...common,
    input: 'src/tools/media/preview-image.ts',
    plugins: [wasmBytes()],
    output: { file: 'dist/preview-image.js', format: 'esm', minify: true, codeSplitting: false },
  },
]);

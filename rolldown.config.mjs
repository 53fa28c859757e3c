// The single-file bundle (npm run build): src/index.ts and everything it imports, in one ESM file.
// Code loaded on first use (dynamic imports) is inlined too, evaluated only when first needed.
import { defineConfig } from 'rolldown';
import { wasmBytes } from './build/wasm-bytes.mjs';

export default defineConfig({
  input: 'src/index.ts',
  platform: 'node',
  logLevel: 'warn',
  plugins: [wasmBytes()],
  output: { file: 'dist/flora-generation-mcp.js', format: 'esm', minify: true, codeSplitting: false },
});

// The bundle (npm run build): src/index.ts and everything it imports, in one ESM file. Code loaded
// on first use (dynamic imports) is inlined too, evaluated only when first needed; the one
// exception is undici's proxy agent, its own file (dist/proxy-agent.js), loaded only when a proxy
// is set, so a server without one neither parses nor holds it.
import { defineConfig } from 'rolldown';
import { wasmBytes } from './build/wasm-bytes.mjs';

const common = { platform: 'node', logLevel: 'warn' };

export default defineConfig([
  {
    ...common,
    input: 'src/index.ts',
    plugins: [wasmBytes()],
    external: ['./proxy-agent.js'],
    makeAbsoluteExternalsRelative: false,
    output: { file: 'dist/flora-generation-mcp.js', format: 'esm', minify: true, codeSplitting: false },
  },
  {
    ...common,
    input: 'src/flora/proxy-agent.ts',
    output: { file: 'dist/proxy-agent.js', format: 'esm', minify: true, codeSplitting: false },
  },
]);

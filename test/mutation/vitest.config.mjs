// The suite Stryker runs against each mutant: every in-process test. Left out are the tests that
// drive the built bundle or a spawned process (a mutant of src/ never reaches dist/), and the soak.
import { defineConfig } from 'vitest/config';
import { wasmBytes } from '../../build/wasm-bytes.mjs';

export default defineConfig({
  plugins: [wasmBytes()],
  test: {
    dir: 'test',
    server: { deps: { inline: ['@cwasm/webp'] } },
    include: ['**/*.test.ts'],
    exclude: [
      '**/e2e/stdio.test.ts',
      '**/e2e/package.test.ts',
      '**/e2e/http-bundle.test.ts',
      '**/soak.test.ts',
      '**/soak-leak.test.ts',
      '**/node_modules/**',
    ],
  },
});

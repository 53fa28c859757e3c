// The suite Stryker runs against each mutant: every in-process test. Left out are the tests that
// drive the built bundle or a spawned process (a mutant of src/ never reaches dist/), and the soak.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    dir: 'test',
    include: ['**/*.test.ts'],
    exclude: [
      '**/e2e/stdio.test.ts',
      '**/e2e/package.test.ts',
      '**/e2e/http-bundle.test.ts',
      '**/soak.test.ts',
      '**/node_modules/**',
    ],
  },
});

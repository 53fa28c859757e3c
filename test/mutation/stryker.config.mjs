// Mutation testing (npm run mutation): how many plausible bugs in src/ the tests catch.
// Not part of npm test: it runs the suite once per mutant and takes a while on 2 cores.
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'test/mutation/vitest.config.mjs', related: false },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  // The bin entry and its stdout guard run only in a spawned process, through the bundle that a
  // mutant never reaches; the .mcpb build script is tooling, not the server.
  mutate: ['src/**/*.ts', '!src/index.ts', '!src/stdout-guard.ts', '!src/build/**'],
  coverageAnalysis: 'perTest',
  ignoreStatic: true,
  concurrency: 2,
  timeoutMS: 20000,
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};

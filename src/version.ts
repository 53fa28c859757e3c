/** Kept equal to package.json's version by test/version.test.ts; a constant avoids reading files at start. */
export const SERVER_NAME = 'flora-generation-mcp';
export const VERSION = '0.1.0';

/**
 * Imported first by the entry: stdout is the JSON-RPC channel, so any stray console output from
 * this code or a dependency is sent to stderr instead of corrupting a response.
 */
// biome-ignore lint/suspicious/noConsole: this is the guard itself: console output goes to stderr.
const toStderr = (...args: unknown[]) => console.error(...args);
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;
console.warn = toStderr;

/**
 * What tools/list may cost the model's context, in bytes of JSON: every toolset together (the
 * default), and the generate toolset alone, what a user who only generates pays. Enforced by
 * test/tools-list.test.ts, reported by npm run bench.
 */
export const TOOLS_LIST_BUDGETS = [
  { toolsets: 'generate,media,techniques,batch', bytes: 10 * 1024 },
  { toolsets: 'generate', bytes: 6 * 1024 },
] as const;

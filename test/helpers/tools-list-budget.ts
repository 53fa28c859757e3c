/**
 * What tools/list may cost the model's context, in bytes of JSON: every toolset together (the
 * default), and the generate toolset alone, what a user who only generates pays. Enforced by
 * test/tools-list.test.ts, reported by npm run bench.
 */
export const TOOLS_LIST_BUDGETS = [
  { toolsets: 'generate,media,techniques,batch', bytes: 10 * 1024 },
  { toolsets: 'generate', bytes: 6 * 1024 },
] as const;

/** The env that makes tools/list longest: ID defaults published in the schemas, the largest wait. */
export const DEFAULTS_ENV = { FLORA_WORKSPACE_ID: 'ws_studio', FLORA_PROJECT_ID: 'prj_mugs', FLORA_MAX_WAIT_SECONDS: '600' };

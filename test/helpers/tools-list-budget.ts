import type { ToolsetName } from '../../src/config.js';

/**
 * What each toolset's tools/list may cost the model's context, in bytes of JSON, when it is the
 * only one enabled. generate, the core loop, keeps the original 6 KB; every other toolset pays for
 * itself, and one with tools but no budget fails test/tools-list.test.ts. Unset FLORA_TOOLSETS
 * offers them all, so the default list may cost their sum.
 */
export const TOOLSET_BUDGET_BYTES: Partial<Record<ToolsetName, number>> = { generate: 6144, media: 1152 };

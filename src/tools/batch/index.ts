/** Many generations in one call, and following many runs at once. */
import type { ToolFactory } from '../tool.js';
import { pollRuns } from './poll-runs.js';
import { startGenerationBatch } from './start-generation-batch.js';

export const batchTools: readonly ToolFactory[] = [(options) => startGenerationBatch(options), pollRuns];

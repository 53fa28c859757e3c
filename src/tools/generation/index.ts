/** Starting billed work: one generation (batches and techniques get folders of their own). */
import type { ToolFactory } from '../tool.js';
import { startGenerationRun } from './start-generation-run.js';

export const generationTools: readonly ToolFactory[] = [startGenerationRun];

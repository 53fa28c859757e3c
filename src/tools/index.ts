/** The registry: every tool the server offers, in the order tools/list shows them. */
import { listModels } from './list-models.js';
import { pollRun } from './poll-run.js';
import { startGenerationRun } from './start-generation-run.js';
import type { ToolDefinition } from './tool.js';

export const TOOLS: readonly ToolDefinition[] = [listModels, startGenerationRun, pollRun];

/** The registry: every tool the server offers, in the order tools/list shows them. */
import { DEFAULT_MAX_WAIT_SECONDS } from '../config.js';
import { listModels } from './list-models.js';
import { listProjects } from './list-projects.js';
import { listWorkspaces } from './list-workspaces.js';
import { pollRun } from './poll-run.js';
import { startGenerationRun } from './start-generation-run.js';
import type { ToolDefinition, ToolOptions } from './tool.js';

export const DEFAULT_TOOL_OPTIONS: ToolOptions = { maxWaitSeconds: DEFAULT_MAX_WAIT_SECONDS };

export function buildTools(options: ToolOptions = DEFAULT_TOOL_OPTIONS): ToolDefinition[] {
  return [listWorkspaces, listProjects(options), listModels, startGenerationRun(options), pollRun(options)];
}

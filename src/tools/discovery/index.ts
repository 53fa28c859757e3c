/** Finding what a start needs: workspace and project IDs, and a model with its params. Free. */
import type { ToolFactory } from '../tool.js';
import { listModels } from './list-models.js';
import { listProjects } from './list-projects.js';
import { listWorkspaces } from './list-workspaces.js';

export const discoveryTools: readonly ToolFactory[] = [listWorkspaces, listProjects, listModels];

/**
 * The registry: every tool the server can offer, grouped into the toolsets a user enables with
 * FLORA_TOOLSETS or --toolsets, in the order tools/list shows them. Each folder's index.ts
 * exports its tools; adding one is a line there.
 */
import { loadConfig, TOOLSET_NAMES, type Config, type ToolsetName } from '../config.js';
import { batchTools } from './batch/index.js';
import { discoveryTools } from './discovery/index.js';
import { generationTools } from './generation/index.js';
import { mediaTools } from './media/index.js';
import { runsTools } from './runs/index.js';
import { techniquesTools } from './techniques/index.js';
import type { ToolDefinition, ToolFactory, ToolOptions } from './tool.js';

/** What each toolset holds. */
const TOOLSETS: Readonly<Record<ToolsetName, readonly ToolFactory[]>> = {
  generate: [...discoveryTools, ...generationTools, ...runsTools],
  media: mediaTools,
  techniques: techniquesTools,
  batch: batchTools,
};

export type RegistryConfig = ToolOptions & Pick<Config, 'toolsets'>;

/** Every toolset with its tools, built for this configuration, whether enabled or not. */
export function toolsetsOf(config: RegistryConfig): Array<{ toolset: ToolsetName; tools: ToolDefinition[] }> {
  return TOOLSET_NAMES.map((toolset) => ({ toolset, tools: TOOLSETS[toolset].map((make) => make(config)) }));
}

/** The tools the configuration enables, in tools/list order. Without a config: every tool, defaults. */
export function buildTools(config: RegistryConfig = loadConfig({})): ToolDefinition[] {
  return toolsetsOf(config)
    .filter(({ toolset }) => config.toolsets.includes(toolset))
    .flatMap(({ tools }) => tools);
}

/** The toolset a tool belongs to, or undefined for a name no toolset has. */
export function toolsetOfTool(name: string): ToolsetName | undefined {
  const all = toolsetsOf(loadConfig({}));
  return all.find(({ tools }) => tools.some((t) => t.name === name))?.toolset;
}

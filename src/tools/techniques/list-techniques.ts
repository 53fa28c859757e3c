import * as z from 'zod';
import type { Technique } from '../../flora/schemas.js';
import { nonEmptyString, pageFields, workspaceFilterField } from '../fields.js';
import { defineTool, type ToolOptions } from '../tool.js';

/** Long enough to tell techniques apart; the full text is in FLORA's app. */
const DESCRIPTION_CHARS = 160;

/** What the agent needs to pick a technique and fill its inputs, and no more (context is scarce). */
function compact(t: Technique): Record<string, unknown> & { technique_id: string } {
  return {
    technique_id: t.technique_id,
    name: t.name,
    description: short(t.description?.trim() ?? ''),
    run_cost: t.run_cost ?? null,
    inputs: t.inputs.map((i) => ({ id: i.id, name: i.name, type: i.type, optional: i.optional === true })),
  };
}

/** Cut at a word boundary, marked with "...". */
function short(text: string): string {
  if (text.length <= DESCRIPTION_CHARS) return text;
  const cut = text.slice(0, DESCRIPTION_CHARS - 3);
  const space = cut.lastIndexOf(' ');
  return `${(space > DESCRIPTION_CHARS / 2 ? cut.slice(0, space) : cut).trimEnd()}...`;
}

export const listTechniques = (options: ToolOptions) =>
  defineTool({
    name: 'list_techniques',
    title: 'List FLORA techniques',
    description:
      "FLORA's ready-made workflows: {techniques: [{technique_id, name, description, run_cost (USD per run), inputs for run_technique (id, name, type, optional)}], next_cursor}. Free.",
    inputSchema: z.strictObject({
      query: nonEmptyString().optional().describe('Only techniques matching this text.'),
      workspace_id: workspaceFilterField(options.defaultWorkspaceId, 'Only techniques of this workspace (ws_...).'),
      ...pageFields('Techniques'),
    }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    async handler(args, { client, signal }) {
      const page = await client.listTechniques(
        { query: args.query, workspace_id: args.workspace_id, limit: args.limit, cursor: args.cursor },
        { signal },
      );
      return { structured: { techniques: page.techniques.map(compact), next_cursor: page.meta?.next_cursor ?? null } };
    },
  });

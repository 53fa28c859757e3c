import * as z from 'zod';
import { nonEmptyString, pageFields, workspaceField } from '../fields.js';
import { defineTool, type ToolOptions } from '../tool.js';

export const listProjects = (options: ToolOptions) =>
  defineTool({
    name: 'list_projects',
    title: 'List FLORA projects',
    description:
      "A workspace's projects, most recently active first: {projects: [{project_id (prj_...), name}], next_cursor}. Free. Names repeat: show the user the matches, don't pick by name.",
    inputSchema: z.strictObject({
      workspace_id: workspaceField(options.defaultWorkspaceId),
      query: nonEmptyString().optional().describe('Only names matching this text.'),
      ...pageFields('Projects'),
    }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    async handler(args, { client, signal }) {
      const page = await client.listProjects(
        { workspace_id: args.workspace_id, query: args.query, limit: args.limit, cursor: args.cursor },
        { signal },
      );
      return { structured: { projects: page.projects, next_cursor: page.meta?.next_cursor ?? null } };
    },
  });

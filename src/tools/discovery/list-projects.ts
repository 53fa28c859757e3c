import * as z from 'zod';
import { pageFields, workspaceField } from '../fields.js';
import { defineTool, type ToolOptions } from '../tool.js';

export const listProjects = (options: ToolOptions) =>
  defineTool({
    name: 'list_projects',
    title: 'List FLORA projects',
    description:
      "Lists a workspace's projects (prj_ IDs), most recently active first. Free, read-only. Names repeat: show the user the matches instead of picking by name. For more, pass next_cursor as cursor.",
    inputSchema: z.strictObject({
      workspace_id: workspaceField(options.defaultWorkspaceId),
      query: z.string().min(1).optional().describe('Only projects whose name matches this text.'),
      ...pageFields('Projects'),
    }),
    outputSchema: z.looseObject({
      projects: z.array(z.looseObject({ project_id: z.string() })),
      next_cursor: z.string().nullable(),
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

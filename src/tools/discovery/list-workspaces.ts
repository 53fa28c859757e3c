import * as z from 'zod';
import { defineTool } from '../tool.js';

export const listWorkspaces = () =>
  defineTool({
    name: 'list_workspaces',
    title: 'List FLORA workspaces',
    description:
      'Lists the workspaces this key can use (ws_ IDs, names, roles). Free, read-only. If there are several, ask the user which one to bill.',
    inputSchema: z.strictObject({}),
    outputSchema: z.looseObject({
      workspaces: z.array(z.looseObject({ workspace_id: z.string() })),
    }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    async handler(_args, { client, signal }) {
      return { structured: await client.listWorkspaces({ signal }) };
    },
  });

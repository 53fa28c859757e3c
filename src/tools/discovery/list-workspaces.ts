import * as z from 'zod';
import { defineTool } from '../tool.js';

export const listWorkspaces = () =>
  defineTool({
    name: 'list_workspaces',
    title: 'List FLORA workspaces',
    description:
      'Workspaces this API key can use: {workspaces: [{workspace_id (ws_...), name, role}]}. Free. If several, ask the user which to bill.',
    inputSchema: z.strictObject({}),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    async handler(_args, { client, signal }) {
      return { structured: await client.listWorkspaces({ signal }) };
    },
  });

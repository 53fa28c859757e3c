import * as z from 'zod';
import { GENERATION_TYPES, ModelList } from '../flora/schemas.js';
import { defineTool } from './tool.js';

export const ListModelsInput = z.strictObject({
  type: z
    .enum(GENERATION_TYPES)
    .optional()
    .describe('Only models that produce this kind of output: image, video, audio or text. Omit for all.'),
});

export const listModels = defineTool({
  name: 'list_models',
  title: 'List FLORA models',
  description: [
    'Lists the generation models this FLORA key can use, with each model\'s model_id, type, provider, typical cost (estimated_credits, about US$0.001 each) and duration (estimated_seconds), and its params (names, types, allowed options, min/max, defaults).',
    'Free and read-only. Use it before start_generation_run to choose model (the model_id, not the display name) and to fill params with valid names and values; pass type to keep the answer short.',
  ].join(' '),
  inputSchema: ListModelsInput,
  outputSchema: ModelList,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, { client, signal }) {
    return { structured: await client.listModels(args.type, { signal }) };
  },
});

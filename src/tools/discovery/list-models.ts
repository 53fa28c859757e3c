import * as z from 'zod';
import { mediaInputs } from '../../flora/media-inputs.js';
import { GENERATION_TYPES, type Model } from '../../flora/schemas.js';
import { defineTool } from '../tool.js';

/**
 * What the agent needs to choose a model, without every parameter's spec (context is scarce).
 * `inputs` only for models that take media: FLORA's catalog often does not list image_url and
 * the like, so without it an image-to-video model cannot be told from a text-to-video one.
 */
function compact(m: Model): Pick<Model, 'model_id'> & Record<string, unknown> {
  const inputs = mediaInputs(m);
  const out: Pick<Model, 'model_id'> & Record<string, unknown> = {
    model_id: m.model_id,
    name: m.name,
    type: m.type,
    ...(inputs.length > 0 ? { inputs } : {}),
    provider: m.provider,
    estimated_seconds: m.estimated_seconds,
    estimated_credits: m.estimated_credits,
    params: m.params.map((p) => p.name),
  };
  if (m.beta !== undefined) out.beta = m.beta;
  return out;
}

export const listModels = () =>
  defineTool({
    name: 'list_models',
    title: 'List FLORA models',
    description:
      'Usable models: {models: [{model_id, type, inputs (media params it takes, e.g. params.image_url), provider, typical seconds and credits (~US$0.001 each), param names}]}. Free.',
    inputSchema: z.strictObject({
      type: z.enum(GENERATION_TYPES).optional().describe('Only models with this output type.'),
      detail: z.boolean().optional().describe("Add each param's spec (type, options, min/max, default)."),
    }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    async handler(args, { client, signal }) {
      const { models } = await client.listModels(args.type, { signal });
      return { structured: { models: args.detail ? models : models.map(compact) } };
    },
  });

import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { GENERATION_TYPES, StartRunResponse, type GenerateBody } from '../flora/schemas.js';
import { defineTool } from './tool.js';

export const StartGenerationRunInput = z.strictObject({
  project_id: z
    .string()
    .regex(/^prj_\S+$/, 'must be a FLORA project ID starting with "prj_"')
    .describe('Project (canvas) the result lands on: a prj_... ID. Ask the user if unknown; never guess.'),
  workspace_id: z
    .string()
    .regex(/^ws_\S+$/, 'must be a FLORA workspace ID starting with "ws_"')
    .describe('Workspace that is billed: a ws_... ID. Ask the user which one if unsure.'),
  prompt: z
    .string()
    .min(1, 'must not be empty')
    .regex(/\S/, 'must contain text, not only whitespace')
    .describe('What to generate, in natural language.'),
  type: z
    .enum(GENERATION_TYPES)
    .describe('What kind of output: image, video, audio or text. Must match the model\'s type.'),
  model: z
    .string()
    .regex(/^\S+$/, 'must be a model endpoint ID such as "t2i-flux-2-pro" (no spaces)')
    .optional()
    .describe('Model endpoint ID from list_models (model_id, e.g. "t2i-flux-2-pro"), not a display name. Omit for the workspace default.'),
  params: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('Model-specific settings, keyed by the names in list_models params (e.g. {"aspect_ratio": "16:9"}). Unknown values are not rejected by FLORA: the run is billed with defaults.'),
  callback_url: z
    .url({ protocol: /^https$/, error: 'must be an https:// URL' })
    .optional()
    .describe('Optional public https URL that FLORA calls once when the run completes or fails.'),
  idempotency_key: z
    .string()
    .regex(/^[\x21-\x7E]{1,255}$/, 'must be 1-255 printable ASCII characters without spaces')
    .optional()
    .describe('Reuse the key from an earlier failed or timed-out start to retry it safely: FLORA refuses a duplicate instead of billing twice. Omit for a new run.'),
});

export const startGenerationRun = defineTool({
  name: 'start_generation_run',
  title: 'Start a FLORA generation (billed)',
  description: [
    'Starts one image, video, audio or text generation in FLORA and returns at once with its run_id; it does not wait for the result.',
    'Costs money: the workspace is charged when the run starts. charged_cost in the answer is a quote in USD; FLORA settles the final charge later and it can differ.',
    'Use list_models first to pick a model_id and its params. Call this once per wanted result: never call again to "check" a run.',
    'Next: call poll_run with the run_id until status is completed (outputs hold the URLs) or failed.',
    'If this call fails with timeout, network_error or upstream_error, retry only with the idempotency_key given in the error, so a run that did start is not started twice.',
  ].join(' '),
  inputSchema: StartGenerationRunInput,
  outputSchema: StartRunResponse,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async handler(args, { client, signal }) {
    const { idempotency_key, ...rest } = args;
    const body: GenerateBody = rest;
    const started = await client.generate(body, idempotency_key ?? randomUUID(), { signal });
    return { structured: started };
  },
});

import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { FloraApiError, FloraError } from '../errors.js';
import { isLostStart, type FloraClient } from '../flora/client.js';
import { findLostRun } from '../flora/recover.js';
import { epochMs, GENERATION_TYPES, StartRunResponse, type GenerateBody } from '../flora/schemas.js';
import { outputBlocks, PollResult, pollResult, waitForRun, waitSecondsField } from './run-wait.js';
import { defineTool, type ToolContext, type ToolOptions } from './tool.js';

const startFields = {
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
};

export const StartResult = StartRunResponse.extend({
  summary: z.string().describe('One sentence on what was started, what it costs and what to do next.'),
  recovered: z
    .boolean()
    .optional()
    .describe('true when the start\'s answer was lost and this run was found in the project\'s history instead of being started again.'),
  run: PollResult.optional().describe('The run\'s state after waiting, when wait_seconds was given.'),
});
export type StartResult = z.infer<typeof StartResult>;

export const startGenerationRun = (options: ToolOptions) =>
  defineTool({
    name: 'start_generation_run',
    title: 'Start a FLORA generation (billed)',
    description: [
      'Starts one image, video, audio or text generation in FLORA and returns its run_id.',
      'Costs money: the workspace is charged when the run starts. charged_cost is a quote in USD; FLORA settles the final charge later and it can differ.',
      'Use list_models first to pick a model_id and its params. Call once per wanted result, never to "check" a run.',
      `Pass wait_seconds (up to ${options.maxWaitSeconds}) to also wait for the result in this call, with progress; otherwise, or if the run is still going when the wait ends, call poll_run with the run_id.`,
      'If the call fails with timeout, network_error or upstream_error, retry only with the idempotency_key given in the error, so a run that did start is not started twice.',
    ].join(' '),
    inputSchema: z.strictObject({ ...startFields, wait_seconds: waitSecondsField(options.maxWaitSeconds) }),
    outputSchema: StartResult,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args, ctx) {
      const { idempotency_key, wait_seconds, ...body } = args;
      const firstAttemptAt = Date.now();
      const { started, recovered } = await startOrRecover(ctx, body, idempotency_key ?? randomUUID(), firstAttemptAt);
      const startedAt = recovered ? (epochMs(started.created_at as number | undefined) ?? firstAttemptAt) : Date.now();
      ctx.runs.remember(started.run_id, started.estimated_seconds, startedAt);

      const cost =
        started.charged_cost === null
          ? 'cost not yet known'
          : `quoted US$${started.charged_cost.toFixed(3)}; FLORA settles the final charge later`;
      let summary = `Started run ${started.run_id} (${cost}).`;
      if (recovered) {
        summary += ' The start\'s answer was lost on the way back, so this run was found in the project\'s history instead of being started again.';
      }
      const { created_at: _createdAt, ...envelope } = started;
      const result: StartResult = { summary, ...envelope, ...(recovered ? { recovered: true } : {}) };
      if (!wait_seconds) {
        result.summary += ` Next: poll_run with this run_id and wait_seconds up to ${options.maxWaitSeconds}.`;
        return { structured: result };
      }
      ctx.progress(0, `started ${started.run_id}, pending`);
      const initial = { run_id: started.run_id, status: 'pending', progress: 0, created_at: startedAt };
      const outcome = await waitForRun(ctx, started.run_id, wait_seconds, initial, recovered).catch((err: unknown) => {
        // Only a cancel gets here; the client drops our answer, so leave the run ID in the log.
        ctx.log.warn(`call cancelled while waiting; run ${started.run_id} was started and keeps running in FLORA`);
        throw err;
      });
      result.run = pollResult(outcome, ctx.runs, options.maxWaitSeconds);
      result.summary += ` ${result.run.summary}`;
      return { structured: result, extraContent: outputBlocks(result.run.outputs) };
    },
  });

/** The run this call started: from FLORA's answer, or found again when that answer was lost. */
async function startOrRecover(
  ctx: ToolContext,
  body: GenerateBody,
  idempotencyKey: string,
  firstAttemptAt: number,
): Promise<{ started: StartRunResponse & { created_at?: number }; recovered: boolean }> {
  try {
    return { started: await ctx.client.generate(body, idempotencyKey, { signal: ctx.signal }), recovered: false };
  } catch (err) {
    if (!isLostStart(err)) throw err;
    return { started: await recover(ctx.client, body, firstAttemptAt, err, ctx.signal), recovered: true };
  }
}

async function recover(
  client: FloraClient,
  body: GenerateBody,
  firstAttemptAt: number,
  lost: FloraError,
  signal: AbortSignal,
): Promise<StartRunResponse & { created_at: number }> {
  const lookup = await findLostRun(client, body, firstAttemptAt, signal).catch((err: unknown) => {
    const why = err instanceof FloraError ? err.code : String(err);
    lost.message += ` Looking the run up in the project's history failed too (${why}).`;
    throw lost;
  });
  if (lookup.found) {
    const g = lookup.found;
    return {
      run_id: g.run_id,
      type: 'generation',
      estimated_seconds: null,
      charged_cost: g.charged_cost ?? null,
      poll_url: null,
      project_id: g.project_id ?? body.project_id,
      model: g.model ?? (body.model ? { model_id: body.model } : null),
      created_at: g.created_at,
    };
  }
  const list = lookup.candidates.map((c) => `${c.run_id} (${c.status}, created_at ${c.created_at})`).join(', ');
  const err = new FloraApiError(
    'idempotency_duplicate',
    `${lost.message} It could not be identified unambiguously in the project's recent generations: ${
      list ? `candidates ${list}. Ask the user which one it is, or poll each with poll_run.` : 'none matched yet; try poll_run later on the project\'s newest runs.'
    } Do not start the generation again.`,
    { status: lost.status, requestId: lost.requestId },
  );
  err.idempotencyKey = lost.idempotencyKey;
  throw err;
}

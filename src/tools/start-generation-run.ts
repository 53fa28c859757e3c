import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { FloraApiError, FloraError } from '../errors.js';
import { isLostStart } from '../flora/client.js';
import { findLostRun } from '../flora/recover.js';
import { preflight } from '../flora/catalog.js';
import { epochMs, GENERATION_TYPES, type GenerateBody, type StartRunResponse } from '../flora/schemas.js';
import { outputBlocks, pollResult, waitForRun, waitSecondsField, type PollResult } from './run-wait.js';
import {
  defineTool,
  missingDefault,
  projectField,
  workspaceField,
  type ToolContext,
  type ToolOptions,
} from './tool.js';

export type StartResult = StartRunResponse & {
  summary: string;
  recovered?: boolean;
  run?: PollResult;
};

/** Published output schema; FLORA's other start fields pass as additional properties. */
const StartOutput = z.looseObject({
  summary: z.string(),
  run_id: z.string(),
  run: z.looseObject({}).optional(),
});

export const startGenerationRun = (options: ToolOptions) =>
  defineTool({
    name: 'start_generation_run',
    title: 'Start a FLORA generation (billed)',
    description: [
      'Starts one image, video, audio or text generation; returns its run_id. Billed: charged_cost is a quote FLORA settles later.',
      'Get IDs from list_workspaces and list_projects, and a model_id with its params from list_models; both are checked before sending.',
      'Pass wait_seconds to wait for the result, else call poll_run; never start again to check a run.',
      'After timeout, network_error or upstream_error, retry only with the error\'s idempotency_key.',
    ].join(' '),
    inputSchema: z.strictObject({
      project_id: projectField(options.defaultProjectId),
      workspace_id: workspaceField(options.defaultWorkspaceId),
      prompt: z
        .string()
        .min(1, 'must not be empty')
        .regex(/\S/, 'must contain text, not only whitespace')
        .describe('What to generate.'),
      type: z.enum(GENERATION_TYPES).describe('Output kind; must match the model\'s type.'),
      model: z
        .string()
        .regex(/^\S+$/, 'must be a model_id such as "t2i-flux-2-pro" (no spaces)')
        .optional()
        .describe('model_id from list_models. Omit for the workspace default.'),
      params: z
        .record(z.string(), z.unknown())
        .optional()
        .describe('Model settings named as in list_models params, e.g. {"aspect_ratio":"16:9"}.'),
      callback_url: z
        .url({ protocol: /^https$/, error: 'must be an https:// URL' })
        .optional()
        .describe('https URL FLORA calls once the run ends.'),
      idempotency_key: z
        .string()
        .regex(/^[\x21-\x7E]{1,255}$/, 'must be 1-255 printable ASCII characters without spaces')
        .optional()
        .describe('Only to retry a failed start: the idempotency_key from its error.'),
      wait_seconds: waitSecondsField(options.maxWaitSeconds),
    }),
    outputSchema: StartOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args, ctx) {
      const { idempotency_key, wait_seconds, project_id, workspace_id, ...rest } = args;
      const body: GenerateBody = {
        project_id: project_id ?? options.defaultProjectId ?? fail(missingDefault('project_id', 'list_projects')),
        workspace_id: workspace_id ?? options.defaultWorkspaceId ?? fail(missingDefault('workspace_id', 'list_workspaces')),
        ...rest,
      };
      // Without a model there is nothing to check params against (the workspace default is unknown).
      if (body.model !== undefined) {
        const catalog = await ctx.catalog.get();
        if (catalog) preflight(body, catalog);
      }

      const firstAttemptAt = Date.now();
      const { started, recovered } = await startOrRecover(ctx, body, idempotency_key ?? randomUUID(), firstAttemptAt);
      const startedAt = recovered ? (epochMs(started.created_at) ?? firstAttemptAt) : Date.now();
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

function fail(err: Error): never {
  throw err;
}

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
    return { started: await recover(ctx, body, firstAttemptAt, err), recovered: true };
  }
}

async function recover(
  ctx: ToolContext,
  body: GenerateBody,
  firstAttemptAt: number,
  lost: FloraError,
): Promise<StartRunResponse & { created_at: number }> {
  const isKnown = (runId: string) => ctx.runs.get(runId) !== undefined;
  const lookup = await findLostRun(ctx.client, body, firstAttemptAt, ctx.signal, isKnown).catch((err: unknown) => {
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

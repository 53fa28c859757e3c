/**
 * One generation start, the same for start_generation_run and for every item of
 * start_generation_batch: the arguments it takes, the pre-flight checks against FLORA's model
 * catalog, one POST /generate with one idempotency key (its run found again if the answer is
 * lost), and the run remembered for later polls. Whatever guards a start guards it here, once.
 */
import * as z from 'zod';
import { preflight } from '../../flora/catalog.js';
import type { CallOptions } from '../../flora/client.js';
import { generationStart } from '../../flora/generation-start.js';
import { GENERATION_TYPES, type GenerateBody } from '../../flora/schemas.js';
import { generationEstimate, type PendingStart } from '../../flora/spend.js';
import type { SpendHold } from '../../flora/spend-ledger.js';
import { type Started, startOrRecover } from '../../flora/start.js';
import { callbackUrlField, idempotencyKeyField, projectField, ruledString, workspaceField } from '../fields.js';
import type { ToolContext, ToolOptions } from '../tool.js';

/** The arguments of one generation, in tools/list order (wait_seconds is the caller's). */
export const generationFields = (options: ToolOptions) => ({
  project_id: projectField(options.defaultProjectId),
  workspace_id: workspaceField(options.defaultWorkspaceId),
  prompt: ruledString(/\S/, 'must contain text, not only whitespace').describe('What to generate.'),
  type: z.enum(GENERATION_TYPES).describe("Output type; must match the model's."),
  model: ruledString(/^\S+$/, 'must be a model_id such as "t2i-flux-2-pro" (no spaces)')
    .optional()
    .describe('model_id from list_models; omit for the workspace default.'),
  params: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('Model settings by list_models param name, e.g. {"aspect_ratio":"16:9"}.'),
  callback_url: callbackUrlField(),
  idempotency_key: idempotencyKeyField(),
});

export interface GenerationStarted extends Started {
  /** What may still go wrong with the run as started (e.g. a media URL FLORA may not fetch). */
  warnings: string[];
  /** Its estimate in US dollars when it was judged (null: unknown). */
  estimatedUsd: number | null;
}

/** A generation checked and priced, not yet sent: what the spend guard judges. */
export interface PreparedGeneration {
  body: GenerateBody;
  pending: PendingStart;
  warnings: string[];
}

/**
 * Checks `body` against the catalog (refusing, with nothing sent, what FLORA would reject or
 * silently bill wrongly) and prices it. Nothing is sent to FLORA's start route.
 */
export async function prepareGeneration(
  ctx: ToolContext,
  body: GenerateBody,
  idempotencyKey: string,
): Promise<PreparedGeneration> {
  // Without a model there is nothing to check params against (the workspace default is unknown).
  const catalog = body.model === undefined ? undefined : await ctx.catalog.get();
  const warnings = catalog ? preflight(body, catalog) : [];
  const pending: PendingStart = {
    label: body.model === undefined ? "the workspace's default model" : `model ${body.model}`,
    estimate: generationEstimate(body.model, catalog),
    idempotencyKey,
  };
  return { body, pending, warnings };
}

/**
 * Starts a prepared generation exactly once under its idempotency key, counted against the spend
 * guard by `hold` (settled by the outcome), and remembers the run.
 */
export async function startGeneration(
  ctx: ToolContext,
  prepared: PreparedGeneration,
  hold: SpendHold,
  call: Omit<CallOptions, 'signal'> = {},
): Promise<GenerationStarted> {
  const { body, pending, warnings } = prepared;
  const started = await startOrRecover(generationStart(ctx.client, body, call), pending.idempotencyKey, {
    signal: ctx.signal,
    isKnown: (runId) => ctx.runs.has(runId),
    hold,
  });
  ctx.runs.remember(started.started.run_id, started.started.estimated_seconds, started.startedAtMs, {
    projectId: body.project_id,
  });
  return { ...started, warnings, estimatedUsd: pending.estimate.usd };
}

import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { preflight } from '../../flora/catalog.js';
import { generationStart } from '../../flora/generation-start.js';
import { GENERATION_TYPES, type GenerateBody, type StartRunResponse } from '../../flora/schemas.js';
import { authorizeOne, estimateOnly, generationEstimate, type SpendFields, spendFields } from '../../flora/spend.js';
import { startOrRecover } from '../../flora/start.js';
import {
  callbackUrlField,
  estimateOnlyField,
  idempotencyKeyField,
  projectField,
  waitSecondsField,
  workspaceField,
} from '../fields.js';
import { followStart, StartOutput, type StartResultBase } from '../runs/after-start.js';
import { defineTool, type ToolOptions } from '../tool.js';

type StartResult = StartRunResponse &
  StartResultBase &
  SpendFields & {
    /** What may still go wrong with the run as started (e.g. a media URL FLORA may not fetch). */
    warnings?: string[];
    recovered?: boolean;
  };

export const startGenerationRun = (options: ToolOptions) =>
  defineTool({
    name: 'start_generation_run',
    title: 'Start a FLORA generation (billed)',
    description: [
      'Starts one image, video, audio or text generation; returns its run_id. Billed: charged_cost is a quote FLORA settles later.',
      'Get IDs from list_workspaces and list_projects, and a model_id with its params from list_models; both are checked before sending.',
      'Pass wait_seconds to wait for the result, else call poll_run; never start again to check a run.',
      "After timeout, network_error or upstream_error, retry only with the error's idempotency_key.",
    ].join(' '),
    inputSchema: z.strictObject({
      project_id: projectField(options.defaultProjectId),
      workspace_id: workspaceField(options.defaultWorkspaceId),
      prompt: z
        .string()
        .min(1, 'must not be empty')
        .regex(/\S/, 'must contain text, not only whitespace')
        .describe('What to generate.'),
      type: z.enum(GENERATION_TYPES).describe("Output kind; must match the model's type."),
      model: z
        .string()
        .regex(/^\S+$/, 'must be a model_id such as "t2i-flux-2-pro" (no spaces)')
        .optional()
        .describe('model_id from list_models. Omit for the workspace default.'),
      params: z
        .record(z.string(), z.unknown())
        .optional()
        .describe('Model settings named as in list_models params, e.g. {"aspect_ratio":"16:9"}.'),
      callback_url: callbackUrlField(),
      idempotency_key: idempotencyKeyField(),
      wait_seconds: waitSecondsField(options.maxWaitSeconds),
      estimate_only: estimateOnlyField(),
    }),
    outputSchema: StartOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args, ctx) {
      const { idempotency_key, wait_seconds, estimate_only, ...rest } = args;
      const body: GenerateBody = rest;
      // Without a model there is nothing to check params against (the workspace default is unknown).
      const catalog = body.model === undefined ? undefined : await ctx.catalog.get();
      const warnings = catalog ? preflight(body, catalog) : [];
      const pending = {
        label: body.model === undefined ? "the workspace's default model" : `model ${body.model}`,
        estimate: generationEstimate(body.model, catalog),
        idempotencyKey: idempotency_key ?? randomUUID(),
      };
      if (estimate_only) return { structured: estimateOnly(ctx.spend, pending) };

      const hold = await authorizeOne(ctx.spend, pending, ctx.signal);
      const { started, recovered, startedAtMs } = await startOrRecover(
        generationStart(ctx.client, body),
        pending.idempotencyKey,
        { signal: ctx.signal, isKnown: (runId) => ctx.runs.has(runId), hold },
      );
      ctx.runs.remember(started.run_id, started.estimated_seconds, startedAtMs);

      const cost =
        started.charged_cost === null
          ? 'cost not yet known'
          : `quoted US$${started.charged_cost.toFixed(3)}; FLORA settles the final charge later`;
      let summary = `Started run ${started.run_id} (${cost}).`;
      if (recovered) {
        summary +=
          " The start's answer was lost on the way back, so this run was found in the project's history instead of being started again.";
      }
      if (warnings.length > 0) summary += ' Read warnings: the run may not use its input media as given.';
      const result: StartResult = {
        summary,
        ...(warnings.length > 0 ? { warnings } : {}),
        ...started,
        ...spendFields(ctx.spend, pending.estimate),
        ...(recovered ? { recovered: true } : {}),
      };
      return followStart(ctx, result, {
        where: { runId: started.run_id },
        startedAtMs,
        recovered,
        waitSeconds: wait_seconds,
        maxWaitSeconds: options.maxWaitSeconds,
      });
    },
  });

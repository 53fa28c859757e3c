import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { preflight } from '../../flora/catalog.js';
import { generationStart } from '../../flora/generation-start.js';
import { GENERATION_TYPES, type GenerateBody, type StartRunResponse } from '../../flora/schemas.js';
import { startOrRecover } from '../../flora/start.js';
import { callbackUrlField, idempotencyKeyField, projectField, ruledString, waitSecondsField, workspaceField } from '../fields.js';
import { followStart, StartOutput, type StartResultBase } from '../runs/after-start.js';
import { defineTool, type ToolOptions } from '../tool.js';

type StartResult = StartRunResponse &
  StartResultBase & {
    /** What may still go wrong with the run as started (e.g. a media URL FLORA may not fetch). */
    warnings?: string[];
    recovered?: boolean;
  };

export const startGenerationRun = (options: ToolOptions) =>
  defineTool({
    name: 'start_generation_run',
    title: 'Start a FLORA generation (billed)',
    description: [
      'Starts one generation; returns its run_id. Billed: charged_cost is a quote FLORA settles later.',
      'model and params are checked first.',
      'Pass wait_seconds to wait for the result, else call poll_run; never start again to check a run.',
    ].join(' '),
    inputSchema: z.strictObject({
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
      wait_seconds: waitSecondsField(options.maxWaitSeconds),
    }),
    outputSchema: StartOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args, ctx) {
      const { idempotency_key, wait_seconds, ...rest } = args;
      const body: GenerateBody = rest;
      // Without a model there is nothing to check params against (the workspace default is unknown).
      let warnings: string[] = [];
      if (body.model !== undefined) {
        const catalog = await ctx.catalog.get();
        if (catalog) warnings = preflight(body, catalog);
      }

      const { started, recovered, startedAtMs } = await startOrRecover(
        generationStart(ctx.client, body),
        idempotency_key ?? randomUUID(),
        { signal: ctx.signal, isKnown: (runId) => ctx.runs.has(runId) },
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

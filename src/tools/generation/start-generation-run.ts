import { newIdempotencyKey } from '../../flora/start.js';
import * as z from 'zod';
import type { GenerateBody, StartRunResponse } from '../../flora/schemas.js';
import { authorizeOne, estimateOnly, type SpendFields, spendFields } from '../../flora/spend.js';
import { estimateOnlyField, waitSecondsField } from '../fields.js';
import { followStart, StartOutput, type StartResultBase } from '../runs/after-start.js';
import { defineTool, type ToolOptions } from '../tool.js';
import { generationFields, prepareGeneration, startGeneration } from './start-one.js';

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
      'Starts one generation; returns its run_id. Billed: charged_cost is a quote FLORA settles later.',
      'model and params are checked first.',
      'Pass wait_seconds to wait for the result, else call poll_run; never start again to check a run.',
    ].join(' '),
    inputSchema: z.strictObject({
      ...generationFields(options),
      wait_seconds: waitSecondsField(options.maxWaitSeconds),
      estimate_only: estimateOnlyField(),
    }),
    outputSchema: StartOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args, ctx) {
      const { idempotency_key, wait_seconds, estimate_only, ...rest } = args;
      const body: GenerateBody = rest;
      const prepared = await prepareGeneration(ctx, body, idempotency_key ?? newIdempotencyKey());
      if (estimate_only) return { structured: estimateOnly(ctx.spend, prepared.pending) };
      const hold = await authorizeOne(ctx.spend, prepared.pending, ctx.signal);
      const { started, recovered, startedAtMs, warnings } = await startGeneration(ctx, prepared, hold);

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
        ...spendFields(ctx.spend, prepared.pending.estimate),
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

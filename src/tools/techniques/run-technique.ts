import * as z from 'zod';
import { authorizeOne, estimateOnly, type SpendFields, spendFields, techniqueEstimate } from '../../flora/spend.js';
import { newIdempotencyKey, startOrRecover } from '../../flora/start.js';
import { prepareInputs } from '../../flora/technique-inputs.js';
import { techniqueRunPlan } from '../../flora/technique-start.js';
import {
  callbackUrlField,
  estimateOnlyField,
  idempotencyKeyField,
  techniqueIdField,
  waitSecondsField,
  workspaceField,
} from '../fields.js';
import { followStart, StartOutput, type StartResultBase } from '../runs/after-start.js';
import { defineTool, type ToolOptions } from '../tool.js';

type RunTechniqueResult = StartResultBase &
  SpendFields &
  Record<string, unknown> & {
    run_id: string;
    technique_id: string;
    warnings?: string[];
  };

export const runTechnique = (options: ToolOptions) =>
  defineTool({
    name: 'run_technique',
    title: 'Run a FLORA technique (billed)',
    description: [
      "Runs a technique; returns its run_id. Billed at the technique's run_cost (USD, from list_techniques).",
      'inputs are checked before sending. wait_seconds and poll_run work as for start_generation_run.',
    ].join(' '),
    inputSchema: z.strictObject({
      technique_id: techniqueIdField('tech_... ID from list_techniques.'),
      inputs: z
        .record(z.string(), z.string())
        .describe('list_techniques input id -> text, or https URL for media (upload_media for files).'),
      workspace_id: workspaceField(options.defaultWorkspaceId),
      callback_url: callbackUrlField(),
      idempotency_key: idempotencyKeyField(),
      wait_seconds: waitSecondsField(options.maxWaitSeconds),
      estimate_only: estimateOnlyField(),
    }),
    outputSchema: StartOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args, ctx) {
      const technique = await ctx.techniques.get(args.technique_id);
      const prepared = prepareInputs(args.inputs, technique);
      const key = args.idempotency_key ?? newIdempotencyKey();
      const { plan, route, reason, warnings } = techniqueRunPlan(ctx.client, {
        techniqueId: args.technique_id,
        workspaceId: args.workspace_id,
        inputs: prepared.inputs,
        callbackUrl: args.callback_url,
        technique,
        idempotencyKey: key,
        keyRoute: ctx.runs.routeOfKey(key),
      });
      const pending = {
        label: `technique ${technique?.name === undefined ? args.technique_id : `${technique.name} (${args.technique_id})`}`,
        estimate: techniqueEstimate(args.technique_id, technique),
        idempotencyKey: key,
      };
      if (args.estimate_only) return { structured: estimateOnly(ctx.spend, pending) };

      const hold = await authorizeOne(ctx.spend, pending, ctx.signal);
      ctx.log.info(`run_technique ${args.technique_id}: ${route} (${reason})`);
      ctx.runs.rememberKeyRoute(key, route);
      const { started, state, recovered, startedAtMs } = await startOrRecover(plan, key, {
        signal: ctx.signal,
        isKnown: (runId) => ctx.runs.has(runId),
        hold,
      });
      ctx.runs.remember(started.run_id, started.estimated_seconds, startedAtMs, { techniqueId: args.technique_id });

      const all = [...prepared.warnings, ...warnings];
      if (technique === undefined) {
        all.push("The technique's definition could not be read, so the inputs were not checked and run_cost is unknown.");
      }
      const runCost = technique?.run_cost ?? null;
      const cost = runCost === null ? 'cost unknown' : `billed at its run_cost, US$${runCost.toFixed(3)}`;
      let summary = `Started technique run ${started.run_id} of ${technique?.name ?? args.technique_id} (${cost}).`;
      if (recovered) {
        summary +=
          " The start's answer was lost on the way back, so this run was found in the workspace's technique runs instead of being started again.";
      }
      if (all.length > 0) summary += ' Read warnings.';
      const status = state?.status ?? (typeof started.status === 'string' ? started.status : undefined);
      const result: RunTechniqueResult = {
        summary,
        ...(all.length > 0 ? { warnings: all } : {}),
        run_id: started.run_id,
        technique_id: args.technique_id,
        run_cost: runCost,
        charged_cost: started.charged_cost,
        estimated_seconds: started.estimated_seconds,
        ...spendFields(ctx.spend, pending.estimate),
        ...(started.project_id ? { project_id: started.project_id } : {}),
        ...(status === undefined ? {} : { status }),
        ...(recovered ? { recovered: true } : {}),
      };
      return followStart(ctx, result, {
        where: { runId: started.run_id, techniqueId: args.technique_id },
        startedAtMs,
        state,
        recovered,
        waitSeconds: args.wait_seconds,
        maxWaitSeconds: options.maxWaitSeconds,
      });
    },
  });

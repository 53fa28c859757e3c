import * as z from 'zod';
import { runIdOf, waitSecondsField } from '../fields.js';
import { waitForRuns, type WatchedRun } from '../runs/wait-many.js';
import { defineTool, type ToolOptions } from '../tool.js';
import { presentRuns, runsSummary } from './present-runs.js';
import { MAX_BATCH } from './start-generation-batch.js';

/** One ID twice would be read twice and reported twice. */
function distinctIds(ids: readonly string[], ctx: z.RefinementCtx): void {
  ids.forEach((id, i) => {
    const first = ids.indexOf(id);
    if (first !== i) ctx.addIssue({ code: 'custom', path: [i], message: `repeats run_ids[${first}]` });
  });
}

export const pollRuns = (options: ToolOptions) =>
  defineTool({
    name: 'poll_runs',
    title: 'Check FLORA runs',
    description: 'poll_run for 1-20 run_ids, one request per project; unknown IDs get error entries.',
    inputSchema: z.strictObject({
      run_ids: z
        .array(runIdOf())
        .min(1)
        .max(MAX_BATCH, `at most ${MAX_BATCH} run_ids per call`)
        .superRefine(distinctIds)
        .describe('run_ids to check.'),
      wait_seconds: waitSecondsField(options.maxWaitSeconds, 'all'),
    }),
    outputSchema: z.looseObject({ summary: z.string(), runs: z.array(z.unknown()) }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    async handler(args, ctx) {
      const deadline = Date.now() + (args.wait_seconds ?? 0) * 1000;
      // What this server remembers of a run says where it is read: a technique's route, or its project's list.
      const watched: WatchedRun[] = args.run_ids.map((runId) => {
        const known = ctx.runs.get(runId);
        return { where: { runId, techniqueId: known?.techniqueId }, projectId: known?.projectId };
      });
      const view = presentRuns(ctx, watched, await waitForRuns(ctx, watched, deadline), options.maxWaitSeconds);
      return {
        structured: {
          summary: runsSummary(view, options.maxWaitSeconds),
          done: view.stillRunning.length === 0,
          runs: view.entries,
          ...(view.stillRunning.length > 0 ? { still_running: view.stillRunning, next_poll_seconds: view.nextPollSeconds } : {}),
        },
        extraContent: view.blocks,
      };
    },
  });

import * as z from 'zod';
import { optionalTechniqueIdField, runIdField, waitSecondsField } from '../fields.js';
import { defineTool, type ToolOptions } from '../tool.js';
import { outputBlocks } from './output-blocks.js';
import { PollOutput, pollResult } from './present.js';
import { waitForRun } from './wait.js';

export const pollRun = (options: ToolOptions) =>
  defineTool({
    name: 'poll_run',
    title: 'Check or wait for a FLORA run',
    description: [
      "A run's status (pending, running, completed, failed), progress 0-100 and, once completed, outputs: public URLs, or the text. Free.",
      'While not done, next_poll_seconds says when to call again. A failed run is a result with error_code, error_message, retry_may_help.',
    ].join(' '),
    inputSchema: z.strictObject({
      run_id: runIdField(),
      technique_id: optionalTechniqueIdField("A technique run's tech_... ID."),
      wait_seconds: waitSecondsField(options.maxWaitSeconds),
    }),
    outputSchema: PollOutput,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    async handler(args, ctx) {
      // A technique run this server started is remembered with its technique.
      const techniqueId = args.technique_id ?? ctx.runs.get(args.run_id)?.techniqueId;
      const where = { runId: args.run_id, techniqueId };
      const outcome = await waitForRun(ctx, where, args.wait_seconds ?? 0);
      const structured = pollResult(outcome, ctx.runs, options.maxWaitSeconds, where);
      return { structured, extraContent: outputBlocks(structured.outputs) };
    },
  });

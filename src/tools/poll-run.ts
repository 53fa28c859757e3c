import * as z from 'zod';
import { RUN_ID_PATTERN, RUN_ID_RULE } from '../flora/client.js';
import { outputBlocks, PollResult, pollResult, waitForRun, waitSecondsField } from './run-wait.js';
import { defineTool, type ToolOptions } from './tool.js';

export const pollRun = (options: ToolOptions) =>
  defineTool({
    name: 'poll_run',
    title: 'Check or wait for a FLORA run',
    description: [
      'Returns the state of a run started with start_generation_run: status (pending, running, completed, failed), progress 0-100, outputs once completed (public media URLs, also given as resource links, or the text itself for text runs), and for a failed run error_code, error_message and whether a retry may help.',
      `Free and read-only. Pass wait_seconds (up to ${options.maxWaitSeconds}) to wait in this call until the run finishes, instead of calling repeatedly; a run still going when the wait ends is a normal result with next_poll_seconds.`,
      'A failed run is a normal result (status failed), not a tool error. Starting it again is a new, billed run.',
    ].join(' '),
    inputSchema: z.strictObject({
      run_id: z
        .string()
        .regex(RUN_ID_PATTERN, RUN_ID_RULE)
        .describe('The run_id returned by start_generation_run.'),
      wait_seconds: waitSecondsField(options.maxWaitSeconds),
    }),
    outputSchema: PollResult,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    async handler(args, ctx) {
      const outcome = await waitForRun(ctx, args.run_id, args.wait_seconds ?? 0);
      const structured = pollResult(outcome, ctx.runs, options.maxWaitSeconds);
      return { structured, extraContent: outputBlocks(structured.outputs) };
    },
  });

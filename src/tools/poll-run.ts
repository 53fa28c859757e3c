import * as z from 'zod';
import { RUN_ID_PATTERN, RUN_ID_RULE } from '../flora/client.js';
import { RunStatus } from '../flora/schemas.js';
import { defineTool } from './tool.js';

export const PollRunInput = z.strictObject({
  run_id: z
    .string()
    .regex(RUN_ID_PATTERN, RUN_ID_RULE)
    .describe('The run_id returned by start_generation_run.'),
});

export const pollRun = defineTool({
  name: 'poll_run',
  title: 'Check a FLORA run',
  description: [
    'Returns the current state of a run started with start_generation_run: status (pending, running, completed, failed), progress 0-100, outputs (public URLs, or the text itself for text runs) once completed, and error_code/error_message if it failed.',
    'Free and read-only. Poll every few seconds (a run takes about its estimated_seconds); stop once status is completed or failed.',
    'A failed run is not retried automatically; starting it again is a new, billed run.',
  ].join(' '),
  inputSchema: PollRunInput,
  outputSchema: RunStatus,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, { client, signal }) {
    return { structured: await client.getRun(args.run_id, { signal }) };
  },
});

/**
 * Waiting for a run inside one tool call, bounded by wait_seconds: polls on the schedule,
 * progress notifications as it goes, and an outcome that never loses a run once it is known.
 */
import { FloraError } from '../../errors.js';
import { TERMINAL_STATUSES, type RunStatus } from '../../flora/schemas.js';
import { sleep } from '../../sleep.js';
import type { ToolContext } from '../tool.js';
import { nextPollDelayMs, remainingSeconds } from './schedule.js';

export interface WaitOutcome {
  run: RunStatus;
  done: boolean;
  pollError?: FloraError;
}

/**
 * Poll `runId` until it is completed or failed or `waitSeconds` run out. `initial` is the state
 * already known (a run just started): the first poll then follows the schedule, or happens at
 * once with `pollFirst`. Once a run is known, a poll error ends the wait with the last state,
 * so a started run is never lost; with nothing known, it is thrown. Cancellation always throws.
 */
export async function waitForRun(
  ctx: ToolContext,
  runId: string,
  waitSeconds: number,
  initial?: RunStatus,
  pollFirst = false,
): Promise<WaitOutcome> {
  const deadline = Date.now() + waitSeconds * 1000;
  let run = initial ?? (await ctx.client.getRun(runId, { signal: ctx.signal }));
  let polls = initial ? 0 : 1;
  for (;;) {
    reportProgress(ctx, run);
    if (TERMINAL_STATUSES.has(run.status)) break;
    const left = deadline - Date.now();
    // Not worth another request, unless nothing real is known yet.
    if (left < 250 && polls > 0) break;
    const delay = polls === 0 && pollFirst ? 0 : nextPollDelayMs(run, ctx.runs, Date.now());
    await sleep(Math.max(0, Math.min(delay, left)), ctx.signal);
    try {
      run = await ctx.client.getRun(runId, { signal: ctx.signal });
      polls++;
    } catch (err) {
      if (!(err instanceof FloraError) || err.code === 'cancelled') throw err;
      return { run, done: false, pollError: err };
    }
  }
  return { run, done: TERMINAL_STATUSES.has(run.status) };
}

function reportProgress(ctx: ToolContext, run: RunStatus): void {
  const left = remainingSeconds(run, ctx.runs, Date.now());
  const pct = TERMINAL_STATUSES.has(run.status) ? 100 : Math.max(0, Math.min(99, run.progress));
  let message = `${run.status}, ${Math.round(pct)}%`;
  if (!TERMINAL_STATUSES.has(run.status) && left !== undefined && left > 0) message += `, about ${Math.ceil(left)} s left`;
  ctx.progress(pct, message);
}

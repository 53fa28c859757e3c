/**
 * Waiting for a run inside one tool call, bounded by wait_seconds: polls on the schedule,
 * progress notifications as it goes, and an outcome that never loses a run once it is known.
 */
import { FloraError } from '../../errors.js';
import { TERMINAL_STATUSES, type RunStatus } from '../../flora/schemas.js';
import { sleep } from '../../sleep.js';
import type { ToolContext } from '../tool.js';
import { nextPollDelayMs, remainingSeconds } from './schedule.js';

/**
 * Where a run is read. FLORA documents GET /runs/{id} for generation and action runs only; a
 * technique run is read under its technique, GET /techniques/{technique_id}/runs/{run_id}. Both
 * URLs are built from the IDs, never from a returned poll_url.
 */
export interface RunLocation {
  runId: string;
  techniqueId?: string;
}

/** One read of the run where it lives; its charged_cost, when FLORA tells it, counts toward spend. */
export async function readRun(ctx: ToolContext, where: RunLocation): Promise<RunStatus> {
  const run = await readOnce(ctx, where);
  ctx.spend.ledger.observe(where.runId, run.charged_cost);
  return run;
}

function readOnce(ctx: ToolContext, where: RunLocation): Promise<RunStatus> {
  const opts = { signal: ctx.signal };
  if (where.techniqueId !== undefined) return ctx.client.getTechniqueRun(where.techniqueId, where.runId, opts);
  return ctx.client.getRun(where.runId, opts).catch((err: unknown) => {
    if (err instanceof FloraError && err.code === 'not_found') {
      throw err.retold(
        `${err.message} If it is a technique run, pass its technique_id: FLORA serves technique runs only under their technique.`,
      );
    }
    throw err;
  });
}

export interface WaitOutcome {
  run: RunStatus;
  done: boolean;
  pollError?: FloraError;
}

/**
 * Poll the run at `where` until it is completed or failed or `waitSeconds` run out. `initial` is the state
 * already known (a run just started): the first poll then follows the schedule, or happens at
 * once with `pollFirst`. Once a run is known, a poll error ends the wait with the last state,
 * so a started run is never lost; with nothing known, it is thrown. Cancellation always throws.
 */
export async function waitForRun(
  ctx: ToolContext,
  where: RunLocation,
  waitSeconds: number,
  initial?: RunStatus,
  pollFirst = false,
): Promise<WaitOutcome> {
  const deadline = Date.now() + waitSeconds * 1000;
  let run = initial ?? (await readRun(ctx, where));
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
      run = await readRun(ctx, where);
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

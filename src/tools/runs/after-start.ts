/**
 * What every start does once its run exists, in one place for generation, batch and technique
 * starts: without wait_seconds, say how to follow the run; with it, wait here (progress
 * notifications as it goes) and present the run, its outputs as content blocks.
 */
import * as z from 'zod';
import type { RunStatus } from '../../flora/schemas.js';
import type { ToolContext, ToolOutput } from '../tool.js';
import { outputBlocks } from './output-blocks.js';
import { pollResult, type PollResult } from './present.js';
import { type RunLocation, waitForRun } from './wait.js';

/**
 * Published output schema of every start tool; FLORA's other fields, and the spend fields beyond
 * estimated_usd (spent_usd and the limits, when set), pass as additional properties. No run_id
 * for estimate_only.
 */
export const StartOutput = z.looseObject({
  summary: z.string(),
  run_id: z.string().optional(),
  run: z.record(z.string(), z.unknown()).optional(),
  estimated_usd: z.number().nullable(),
});

export interface StartResultBase {
  summary: string;
  run?: PollResult;
}

export interface FollowOptions {
  where: RunLocation;
  startedAtMs: number;
  /** The run's state as the start's answer told it, when it did. */
  state?: RunStatus;
  /** A recovered run is polled at once: nothing is known of its state. */
  recovered: boolean;
  waitSeconds: number | undefined;
  maxWaitSeconds: number;
}

export async function followStart<T extends StartResultBase>(
  ctx: ToolContext,
  result: T,
  opts: FollowOptions,
): Promise<ToolOutput<T>> {
  const { where } = opts;
  if (!opts.waitSeconds) {
    const ids = where.techniqueId === undefined ? 'this run_id' : `this run_id and technique_id "${where.techniqueId}"`;
    result.summary += ` Next: poll_run with ${ids} and wait_seconds up to ${opts.maxWaitSeconds}.`;
    return { structured: result };
  }
  ctx.progress(0, `started ${where.runId}, ${opts.state?.status ?? 'pending'}`);
  const initial = opts.state ?? { run_id: where.runId, status: 'pending', progress: 0, created_at: opts.startedAtMs };
  const outcome = await waitForRun(ctx, where, opts.waitSeconds, initial, opts.recovered).catch((err: unknown) => {
    // Only a cancel gets here; the client drops our answer, so leave the run ID in the log.
    ctx.log.warn(`call cancelled while waiting; run ${where.runId} was started and keeps running in FLORA`);
    throw err;
  });
  result.run = pollResult(outcome, ctx.runs, opts.maxWaitSeconds, where);
  result.summary += ` ${result.run.summary}`;
  return { structured: result, extraContent: outputBlocks(result.run.outputs) };
}

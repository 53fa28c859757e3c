/**
 * The agent's view of a run: a summary first, failure advice for a failed run, and when to look
 * again for one still going.
 */
import * as z from 'zod';
import { retryAdvice } from '../../flora/run-errors.js';
import type { RunMemory } from '../../flora/run-memory.js';
import type { RunStatus } from '../../flora/schemas.js';
import { remainingSeconds } from './schedule.js';
import type { RunLocation, WaitOutcome } from './wait.js';

/** The agent's view of a run: FLORA's fields plus what to make of them. */
export interface PollResult extends RunStatus {
  summary: string;
  done: boolean;
  /** When the run is still going: suggested seconds until the next poll_run. */
  next_poll_seconds?: number;
  /** For a failed run: whether starting it again may succeed, and what to do. */
  retry_may_help?: boolean;
  retry_advice?: string;
  /** Set when checking the run failed during the wait; the state shown is the last known. */
  poll_error?: { code: string; message: string };
}

/**
 * The published output schema: the fields every answer has, typed; the rest (FLORA's run
 * fields, and any FLORA adds later) pass as additional properties. Kept small for the
 * tools/list token budget; the summary and field names carry the meaning.
 */
export const PollOutput = z.looseObject({
  summary: z.string(),
  run_id: z.string(),
  status: z.string(),
  done: z.boolean(),
});

/**
 * The agent's view of a run: summary first, then (if failed) why and whether to retry. A
 * technique run names its technique, which poll_run needs where the run is not remembered.
 */
export function pollResult(outcome: WaitOutcome, memory: RunMemory, maxWaitSeconds: number, where?: RunLocation): PollResult {
  const { run, done } = outcome;
  const techniqueId = where?.techniqueId;
  const head: Record<string, unknown> = { summary: '', ...(techniqueId === undefined ? {} : { technique_id: techniqueId }) };
  let summary: string;
  if (run.status === 'failed') {
    const advice = retryAdvice(run.error_code);
    head.error_code = run.error_code ?? null;
    head.error_message = run.error_message ?? null;
    head.retry_may_help = advice.retry_may_help;
    head.retry_advice = advice.advice;
    summary = `Run ${run.run_id} failed: ${run.error_code ?? 'no error code'}: ${run.error_message ?? 'no message'}. ${advice.advice}`;
  } else if (run.status === 'completed') {
    const outputs = run.outputs ?? [];
    const kinds = [...new Set(outputs.map((o) => o.type))].join(', ');
    summary = `Run ${run.run_id} completed with ${outputs.length} output(s)${kinds ? ` (${kinds})` : ''}. Media URLs are public links; text outputs hold the text itself.`;
  } else {
    summary = `Run ${run.run_id} is ${run.status} (${Math.round(run.progress)}%).`;
  }
  const result: PollResult = { ...head, ...run, summary, done };
  if (!done) {
    const left = remainingSeconds(run, memory, Date.now());
    const next = left !== undefined && left > 0 ? Math.ceil(left) : 5;
    result.next_poll_seconds = next;
    const ids = techniqueId === undefined ? '' : `technique_id "${techniqueId}" and `;
    result.summary += ` Still going${left !== undefined && left > 0 ? `, about ${Math.ceil(left)} s left` : ''}: call poll_run again with ${ids}wait_seconds up to ${maxWaitSeconds} (suggested in ${next} s).`;
  }
  if (outcome.pollError) {
    result.poll_error = { code: outcome.pollError.code, message: outcome.pollError.message };
    result.summary += ` Checking the run failed (${outcome.pollError.code}); the state shown is the last known. Call poll_run again shortly.`;
  }
  return result;
}

/**
 * Many runs as the agent reads them: each as poll_run presents it (or its error), in order, their
 * outputs as content blocks, and for the runs still going, which they are and when to look again.
 */
import type { ContentBlock } from '@modelcontextprotocol/sdk/types.js';
import type { ErrorPayload } from '../../errors.js';
import { outputBlocks } from '../runs/output-blocks.js';
import { type PollResult, pollResult } from '../runs/present.js';
import type { Watched, WatchedRun } from '../runs/wait-many.js';
import type { ToolContext } from '../tool.js';

/** A run that could not be read at all. */
export interface UnreadRun {
  run_id: string;
  error: ErrorPayload;
}

export type RunEntry = PollResult | UnreadRun;

export function isUnread(entry: RunEntry): entry is UnreadRun {
  return 'error' in entry && !('status' in entry);
}

export interface RunsView {
  /** One entry per watched run, in the same order. */
  entries: RunEntry[];
  completed: number;
  failed: number;
  /** Runs neither completed nor failed (checking them may also have failed). */
  stillRunning: string[];
  /** Suggested seconds until poll_runs, when some are still going. */
  nextPollSeconds?: number;
  blocks: ContentBlock[];
}

export function presentRuns(
  ctx: ToolContext,
  watched: readonly WatchedRun[],
  outcomes: readonly Watched[],
  maxWaitSeconds: number,
): RunsView {
  const view: RunsView = { entries: [], completed: 0, failed: 0, stillRunning: [], blocks: [] };
  const waits: number[] = [];
  outcomes.forEach((outcome, i) => {
    const where = watched[i]!.where;
    if (outcome.error !== undefined) {
      view.entries.push({ run_id: where.runId, error: outcome.error.toPayload() });
      return;
    }
    const entry = pollResult(outcome, ctx.runs, maxWaitSeconds, where);
    view.entries.push(entry);
    if (entry.status === 'completed') view.completed++;
    else if (entry.status === 'failed') view.failed++;
    else view.stillRunning.push(entry.run_id);
    if (entry.next_poll_seconds !== undefined) waits.push(entry.next_poll_seconds);
    view.blocks.push(...outputBlocks(entry.outputs));
  });
  if (waits.length > 0) view.nextPollSeconds = Math.min(...waits);
  return view;
}

/** What the agent reads about the runs: how many finished, and which are still going and when to look. */
export function runsSummary(view: RunsView, maxWaitSeconds: number): string {
  const total = view.entries.length;
  const unreadable = total - view.completed - view.failed - view.stillRunning.length;
  let text = `${view.completed + view.failed} of ${total} run(s) finished (${view.completed} completed, ${view.failed} failed${
    unreadable > 0 ? `; ${unreadable} could not be read, see their error` : ''
  }).`;
  if (view.stillRunning.length > 0) {
    text += ` Still going: ${view.stillRunning.join(', ')}. Call poll_runs with these run_ids (still_running) and wait_seconds up to ${maxWaitSeconds}${
      view.nextPollSeconds === undefined ? '' : `, in about ${view.nextPollSeconds} s`
    }.`;
  }
  if (view.failed > 0) text += ' A failed run carries error_code and retry_advice.';
  return text;
}

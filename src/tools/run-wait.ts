/**
 * Waiting for a run inside one tool call, bounded by wait_seconds: a polling schedule from the
 * run's estimate and observed progress (never more often than every 1 s, never less than every
 * 5 s, FLORA's guidance), progress notifications, and the result the agent reads: a summary,
 * failure advice, outputs as resource links, and when to look again.
 */
import * as z from 'zod';
import type { ContentBlock } from '@modelcontextprotocol/sdk/types.js';
import { FloraError } from '../errors.js';
import { sleep } from '../sleep.js';
import { retryAdvice } from '../flora/run-errors.js';
import { epochMs, TERMINAL_STATUSES, type RunOutput, type RunStatus } from '../flora/schemas.js';
import type { ToolContext } from './tool.js';

export const MIN_POLL_MS = 1_000;
export const MAX_POLL_MS = 5_000;
/** Without an estimate or progress, poll at FLORA's documented 2 s. */
const BLIND_POLL_MS = 2_000;
/** Aim just after the estimated end, so the poll lands on the finished run. */
const AIM_AFTER_MS = 50;

export const waitSecondsField = (max: number) =>
  z
    .number()
    .min(0)
    .max(max)
    .optional()
    .describe(`Wait up to this many seconds (0-${max}) for the run to end, with progress.`);

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

/** What this server learned about runs it started, to schedule later polls of them. */
export class RunMemory {
  private readonly runs = new Map<string, { estimatedSeconds: number | null; startedAtMs: number }>();
  constructor(private readonly limit = 1_000) {}

  remember(runId: string, estimatedSeconds: number | null, startedAtMs: number): void {
    this.runs.delete(runId);
    this.runs.set(runId, { estimatedSeconds, startedAtMs });
    if (this.runs.size > this.limit) this.runs.delete(this.runs.keys().next().value as string);
  }

  get(runId: string): { estimatedSeconds: number | null; startedAtMs: number } | undefined {
    return this.runs.get(runId);
  }
}

/** Seconds the run probably still needs, from observed progress, else from the estimate. */
export function remainingSeconds(run: RunStatus, memory: RunMemory, now: number): number | undefined {
  const known = memory.get(run.run_id);
  const created = epochMs(run.created_at);
  const plausible = created !== undefined && created <= now + 60_000 && created > now - 86_400_000;
  const origin = known?.startedAtMs ?? (plausible ? created : undefined);
  const elapsed = origin === undefined ? undefined : Math.max(0, (now - origin) / 1000);
  const p = run.progress;
  if (elapsed !== undefined && elapsed > 0 && p >= 5 && p < 100) return (elapsed * (100 - p)) / p;
  if (known?.estimatedSeconds != null && elapsed !== undefined) return known.estimatedSeconds - elapsed;
  return undefined;
}

export function nextPollDelayMs(run: RunStatus, memory: RunMemory, now: number): number {
  const left = remainingSeconds(run, memory, now);
  let ms: number;
  if (left === undefined) ms = BLIND_POLL_MS;
  else if (left > 0) ms = left * 1000 + AIM_AFTER_MS;
  // Overdue: the estimate was wrong; back off gently from 1 s.
  else ms = MIN_POLL_MS + Math.min(MAX_POLL_MS, (-left * 1000) / 4);
  return Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, ms));
}

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

/** The agent's view of a run: summary first, then (if failed) why and whether to retry. */
export function pollResult(outcome: WaitOutcome, memory: RunMemory, maxWaitSeconds: number): PollResult {
  const { run, done } = outcome;
  const head: Record<string, unknown> = { summary: '' };
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
    result.summary += ` Still going${left !== undefined && left > 0 ? `, about ${Math.ceil(left)} s left` : ''}: call poll_run again with wait_seconds up to ${maxWaitSeconds} (suggested in ${next} s).`;
  }
  if (outcome.pollError) {
    result.poll_error = { code: outcome.pollError.code, message: outcome.pollError.message };
    result.summary += ` Checking the run failed (${outcome.pollError.code}); the state shown is the last known. Call poll_run again shortly.`;
  }
  return result;
}

const MIME: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  avif: 'image/avif',
  svg: 'image/svg+xml',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mov: 'video/quicktime',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  ogg: 'audio/ogg',
  m4a: 'audio/mp4',
  flac: 'audio/flac',
  aac: 'audio/aac',
  pdf: 'application/pdf',
  txt: 'text/plain',
  md: 'text/markdown',
  json: 'application/json',
};
/** When the extension says nothing, the output type names the family's most common format. */
const BY_TYPE: Record<string, string> = {
  imageUrl: 'image/png',
  videoUrl: 'video/mp4',
  audioUrl: 'audio/mpeg',
  documentUrl: 'application/pdf',
};

export function mimeTypeOf(output: RunOutput): string {
  let ext = '';
  try {
    const last = new URL(output.url).pathname.split('/').pop() ?? '';
    ext = last.includes('.') ? (last.split('.').pop() ?? '').toLowerCase() : '';
  } catch {
    ext = '';
  }
  return MIME[ext] ?? BY_TYPE[output.type] ?? 'application/octet-stream';
}

/** Content blocks after the JSON: a resource_link per media output, text outputs as text. */
export function outputBlocks(outputs: readonly RunOutput[] | null | undefined): ContentBlock[] {
  const blocks: ContentBlock[] = [];
  for (const [i, output] of (outputs ?? []).entries()) {
    if (output.type === 'text') {
      blocks.push({ type: 'text', text: output.url });
      continue;
    }
    let url: URL;
    try {
      url = new URL(output.url);
    } catch {
      continue;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') continue;
    const file = decodeURIComponent(url.pathname.split('/').pop() ?? '') || `${output.output_id || `output-${i}`}`;
    blocks.push({
      type: 'resource_link',
      uri: output.url,
      name: file,
      title: `${output.type} ${i + 1}`,
      mimeType: mimeTypeOf(output),
      description: `Generated ${output.type.replace(/Url$/, '')} (public link).`,
    });
  }
  return blocks;
}

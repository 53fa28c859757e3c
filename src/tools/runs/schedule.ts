/**
 * When to look at a run again: from observed progress, else FLORA's estimate, aimed just after
 * the expected end; never more often than every 1 s, never less than every 5 s (FLORA's guidance).
 */
import type { RunMemory } from '../../flora/run-memory.js';
import { epochMs, type RunStatus } from '../../flora/schemas.js';

const MIN_POLL_MS = 1_000;
const MAX_POLL_MS = 5_000;
/** Without an estimate or progress, poll at FLORA's documented 2 s. */
const BLIND_POLL_MS = 2_000;
/** Aim just after the estimated end, so the poll lands on the finished run. */
const AIM_AFTER_MS = 50;

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

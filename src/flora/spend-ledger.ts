/**
 * What one account's runs have spent, for the spend guard (spend.ts): a start's estimate is held
 * from its judgement until its outcome is known, then counted as the run's entry (the larger of
 * the estimate and FLORA's latest charged_cost), kept when the run may exist, or released.
 */
import type { FloraError } from '../errors.js';
import type { PendingStart } from './spend.js';

/**
 * A start's claim on the ledger, from its judgement until its outcome is known: exactly one of
 * started, failed or release ends it (later calls do nothing).
 */
export interface SpendHold {
  /** The run exists: it is counted from now on at the larger of the estimate and its charged_cost. */
  started(runId: string, chargedCost: number | null): void;
  /** The start failed: still counted when the run may exist (the error names a key to retry with), else released. */
  failed(err: unknown): void;
  /** Nothing was sent. */
  release(): void;
}

interface Entry {
  estimateUsd: number | null;
  /** FLORA's latest charged_cost for the run: the quote at start, the settled cost later. */
  chargedUsd: number | null;
  runId?: string;
}

/**
 * What one account's runs have spent, by idempotency key, with the holds of starts under way.
 * Bounded: past `limit` runs, the oldest is folded into a running total (its amount kept, its
 * later charged_cost updates no longer seen).
 */
export class SpendLedger {
  private readonly entries = new Map<string, Entry>();
  private readonly keyOfRun = new Map<string, string>();
  private readonly holds = new Set<{ usd: number }>();
  private folded = 0;
  private foldedUnpriced = 0;

  constructor(private readonly limit = 1_000) {}

  /** US dollars counted: every run this account started (or may have), and the starts under way. */
  spentUsd(): number {
    let sum = this.folded;
    for (const e of this.entries.values()) sum += counted(e) ?? 0;
    for (const h of this.holds) sum += h.usd;
    return roundUsd(sum);
  }

  /** Runs counted whose cost is unknown: spentUsd leaves them out, so it is a lower bound. */
  unpricedRuns(): number {
    let n = this.foldedUnpriced;
    for (const e of this.entries.values()) if (counted(e) === null) n++;
    return n;
  }

  /** Whether a start with this key was counted already (it started, or may have). */
  counts(idempotencyKey: string): boolean {
    return this.entries.has(idempotencyKey);
  }

  /** Whether this account has nothing counted and nothing under way. */
  isEmpty(): boolean {
    return this.entries.size === 0 && this.holds.size === 0 && this.folded === 0 && this.foldedUnpriced === 0;
  }

  /** FLORA told a run's charged_cost (a poll): it counts from now on, when this account started the run. */
  observe(runId: string, chargedCost: number | null | undefined): void {
    if (typeof chargedCost !== 'number') return;
    const key = this.keyOfRun.get(runId);
    const entry = key === undefined ? undefined : this.entries.get(key);
    if (entry) entry.chargedUsd = chargedCost;
  }

  /** Holds the start's estimate (nothing when its key is counted already) until its outcome is known. */
  hold(start: PendingStart): SpendHold {
    const key = start.idempotencyKey;
    const claim = { usd: this.counts(key) ? 0 : (start.estimate.usd ?? 0) };
    this.holds.add(claim);
    let open = true;
    const end = (record: Entry | undefined) => {
      if (!open) return;
      open = false;
      this.holds.delete(claim);
      if (record !== undefined) this.record(key, record);
    };
    return {
      started: (runId, chargedCost) => end({ estimateUsd: start.estimate.usd, chargedUsd: chargedCost, runId }),
      failed: (err) => end(mayHaveStarted(err) ? { estimateUsd: start.estimate.usd, chargedUsd: null } : undefined),
      release: () => end(undefined),
    };
  }

  private record(key: string, next: Entry): void {
    const before = this.entries.get(key);
    const entry: Entry = {
      estimateUsd: before?.estimateUsd ?? next.estimateUsd,
      chargedUsd: next.chargedUsd ?? before?.chargedUsd ?? null,
      ...((next.runId ?? before?.runId) === undefined ? {} : { runId: next.runId ?? before?.runId }),
    };
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (entry.runId !== undefined) this.keyOfRun.set(entry.runId, key);
    if (this.entries.size > this.limit) {
      const [oldKey, old] = this.entries.entries().next().value as [string, Entry];
      this.entries.delete(oldKey);
      if (old.runId !== undefined) this.keyOfRun.delete(old.runId);
      const amount = counted(old);
      if (amount === null) this.foldedUnpriced++;
      else this.folded += amount;
    }
  }
}

/**
 * A failed start may still have started its run when its error names the key to retry with, or
 * when the call was cancelled while the start was on its way.
 */
function mayHaveStarted(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as FloraError;
  return e.idempotencyKey !== undefined || e.code === 'cancelled';
}

/**
 * What a run counts: the larger of our estimate and FLORA's charged_cost. With no estimate, a
 * charged_cost of 0 tells nothing (FLORA quotes 0 for models that are not free): unknown.
 */
function counted(e: Entry): number | null {
  if (e.estimateUsd === null) return e.chargedUsd !== null && e.chargedUsd > 0 ? e.chargedUsd : null;
  return Math.max(e.estimateUsd, e.chargedUsd ?? 0);
}

/** Dollar amounts as results carry them: no floating-point noise (0.327, not 0.32700000000000007). */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

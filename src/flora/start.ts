/**
 * Start exactly once: one POST with one idempotency key (the same on every retry), and when the
 * answer is lost on the way back, the run that start created is found again in FLORA's history,
 * never started a second time. Single, batch and technique starts all go through here; each
 * describes itself as a StartPlan (how to start, where its runs are listed, which can be its own)
 * and brings the spend guard's hold, which is settled here by the start's outcome.
 */
import { FloraApiError, FloraError } from '../errors.js';
import { isLostStart, type StartWords } from './client.js';
import { listingCovers, pickLostRun, type RecentRun } from './recover.js';
import { epochMs, type RunStatus, type StartRunResponse } from './schemas.js';
import type { SpendHold } from './spend-ledger.js';

/**
 * A new Idempotency-Key for a start or an upload. Web Crypto's randomUUID, not node:crypto's: the
 * global loads on first use, where an import of node:crypto costs every server's start ~5 ms.
 */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

/** A start's answer: the envelope, and the run's state when the answer shows it. */
export interface StartAnswer {
  started: StartRunResponse;
  /** POST /techniques/{id}/runs answers the run itself (status, progress, outputs once done). */
  state?: RunStatus;
}

export interface Started extends StartAnswer {
  /** True when the run was found in the history because the start's answer was lost. */
  recovered: boolean;
  /** When the run started, as well as we know: FLORA's created_at for a recovered run. */
  startedAtMs: number;
}

export interface StartOptions {
  signal: AbortSignal;
  /** Runs whose start this server already answered: they belong to other calls. */
  isKnown(runId: string): boolean;
  /**
   * The spend guard's hold for this start (spend.ts authorize): settled here, whatever the
   * outcome, so no billed start can pass the guard unseen or leave its hold behind.
   */
  hold: SpendHold;
}

/** One kind of start: how it is made, and how its run is found again when the answer is lost. */
export interface StartPlan<R extends RecentRun> {
  /** What it starts, in the words its errors use. */
  words: StartWords;
  /** The one POST (the client retries it with the same key). */
  start(idempotencyKey: string, signal: AbortSignal): Promise<StartAnswer>;
  /** FLORA's recent runs where this start's run would show up, newest first. */
  recent(signal: AbortSignal): Promise<R[]>;
  /** Whether a recent run can be this start's (beyond age and "not already known"). */
  matches(run: R): boolean;
  /** A recovered run, told as the start's answer would have told it. */
  asStarted(run: R): StartRunResponse;
}

/** The run this call started: from FLORA's answer, or found again when that answer was lost. */
export async function startOrRecover<R extends RecentRun>(
  plan: StartPlan<R>,
  idempotencyKey: string,
  opts: StartOptions,
): Promise<Started> {
  try {
    const started = await startOnce(plan, idempotencyKey, opts);
    opts.hold.started(started.started.run_id, started.started.charged_cost);
    return started;
  } catch (err) {
    opts.hold.failed(err);
    throw err;
  }
}

async function startOnce<R extends RecentRun>(plan: StartPlan<R>, idempotencyKey: string, opts: StartOptions): Promise<Started> {
  const firstAttemptAt = Date.now();
  let answer: StartAnswer;
  try {
    answer = await plan.start(idempotencyKey, opts.signal);
  } catch (err) {
    if (!isLostStart(err)) throw err;
    const found = await recover(plan, firstAttemptAt, err, opts);
    return { started: plan.asStarted(found), recovered: true, startedAtMs: epochMs(found.created_at) ?? firstAttemptAt };
  }
  return { ...answer, recovered: false, startedAtMs: Date.now() };
}

async function recover<R extends RecentRun>(
  plan: StartPlan<R>,
  firstAttemptAt: number,
  lost: FloraError,
  opts: StartOptions,
): Promise<R> {
  const { noun, history } = plan.words;
  const recent = await plan.recent(opts.signal).catch((err: unknown) => {
    const why = err instanceof FloraError ? err.code : String(err);
    throw lost.retold(`${lost.message} Looking the run up in ${history} failed too (${why}).`);
  });
  const candidates = pickLostRun(recent, firstAttemptAt, opts.isKnown, (r) => plan.matches(r));
  const covered = listingCovers(recent, firstAttemptAt);
  if (covered && candidates.length === 1 && candidates[0]) return candidates[0];
  const list = candidates.map((c) => `${c.run_id} (${c.status}, created_at ${c.created_at})`).join(', ');
  throw new FloraApiError(
    'idempotency_duplicate',
    `${lost.message} It could not be identified unambiguously in ${history}: ${
      covered ? '' : `so many runs started since that it may be off the newest ${recent.length} listed; `
    }${
      list
        ? `candidates ${list}. Ask the user which one it is, or poll each with poll_run.`
        : `none matched yet; look again in ${history} later.`
    } Do not start the ${noun} again.`,
    { status: lost.status, requestId: lost.requestId, idempotencyKey: lost.idempotencyKey },
  );
}

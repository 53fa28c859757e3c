/**
 * How a batch's starts go out, from what FLORA measured: at most 6 in flight (6 concurrent creates
 * saw no throttling), Krea models about 5 s apart (they rate-limit hard and lose most of a
 * concurrent batch), and after a 429 the whole batch pauses for Retry-After (else 5 s) and drops
 * to 2 in flight (FLORA's batch recipe), instead of failing items that a wait saves.
 */
import { CancelledError, FloraError } from '../../errors.js';
import { sleep } from '../../sleep.js';

export interface BatchPacing {
  /** Starts in flight at most. */
  maxInFlight: number;
  /** Starts in flight at most once FLORA has throttled the batch. */
  throttledInFlight: number;
  /** Models FLORA measured as rate-limited: started `pacedSpacingMs` apart. */
  pacedModel: RegExp;
  pacedSpacingMs: number;
  /** The whole batch's pause after a 429 that names no Retry-After (FLORA's samples wait 5 s). */
  rateLimitPauseMs: number;
  /** No start begins later than this after the call began: clients cut calls at about 60 s. */
  startBudgetMs: number;
  /** Times one item is sent again after FLORA throttled it beyond the client's own retries. */
  maxRequeues: number;
}

export const BATCH_PACING: BatchPacing = {
  maxInFlight: 6,
  throttledInFlight: 2,
  pacedModel: /krea/i,
  pacedSpacingMs: 5_000,
  rateLimitPauseMs: 5_000,
  startBudgetMs: 40_000,
  maxRequeues: 2,
};

/** An item this call did not send (out of time, or stopped): nothing reached FLORA for it. */
export function notStarted(message: string, retryable: boolean): FloraError {
  return new FloraError('not_started', `${message} Nothing was sent to FLORA for this item.`, { retryable });
}

/**
 * Runs `start(i)` for every item, at most `maxInFlight` at once (fewer once throttled), paced
 * items `pacedSpacingMs` apart, everyone waiting out a 429's pause. Each item's result or error
 * is kept in its place, cancellation included: it returns once every worker has stopped.
 */
export class StartScheduler {
  private inFlightLimit: number;
  private pausedUntil = 0;
  /** When the last paced item went (or will: its turn is pending). */
  private lastPaced: Promise<number> = Promise.resolve(Number.NEGATIVE_INFINITY);
  private readonly began = Date.now();

  constructor(
    private readonly pacing: BatchPacing,
    private readonly signal: AbortSignal,
  ) {
    this.inFlightLimit = pacing.maxInFlight;
  }

  /** FLORA answered 429 to one of the batch's requests: everyone slows down. Says how, for the log. */
  rateLimited(retryAfterSeconds: number | undefined): string {
    this.inFlightLimit = Math.min(this.inFlightLimit, this.pacing.throttledInFlight);
    const pause = retryAfterSeconds === undefined ? this.pacing.rateLimitPauseMs : retryAfterSeconds * 1000;
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + pause);
    return `every start waits ${Math.ceil(pause / 1000)} s, then at most ${this.inFlightLimit} in flight`;
  }

  async run<T>(
    count: number,
    paced: (i: number) => boolean,
    start: (i: number) => Promise<T>,
  ): Promise<Array<{ ok: true; value: T } | { ok: false; error: unknown }>> {
    const results: Array<{ ok: true; value: T } | { ok: false; error: unknown }> = [];
    let next = 0;
    const worker = async (w: number) => {
      // A worker above the (possibly lowered) limit stops taking items; workers 0..limit-1 never do.
      while (w < this.inFlightLimit && next < count) {
        const i = next++;
        results[i] = await this.one(i, paced(i), start).then(
          (value) => ({ ok: true as const, value }),
          (error: unknown) => ({ ok: false as const, error }),
        );
        if (this.signal.aborted) return;
      }
    };
    await Promise.all(Array.from({ length: Math.min(count, this.pacing.maxInFlight) }, (_, w) => worker(w)));
    // Cancelled: the items never taken up are cancelled too (the caller decides what to tell).
    for (let i = 0; i < count; i++)
      results[i] ??= { ok: false, error: CancelledError.of('The call was cancelled by the client.') };
    return results;
  }

  /** One item: wait for its turn, start it, and send it again after a throttle the wait may save. */
  private async one<T>(i: number, paced: boolean, start: (i: number) => Promise<T>): Promise<T> {
    for (let requeue = 0; ; requeue++) {
      await this.turn(paced);
      try {
        return await start(i);
      } catch (err) {
        // A 429 means FLORA took nothing: sending the item again, with its same key, is safe.
        const throttled = err instanceof FloraError && err.code === 'rate_limited';
        if (!throttled || requeue >= this.pacing.maxRequeues || this.pausedUntil > this.deadline()) throw err;
      }
    }
  }

  /**
   * Resolves when this item may be sent: no pause in force and, for a paced item, `pacedSpacingMs`
   * after the previous paced item went (paced items go in the order they asked). Throws
   * `not_started` when that moment is past the time the call has for starts.
   */
  private async turn(paced: boolean): Promise<void> {
    if (!paced) return this.unpaused(0, paced);
    const previous = this.lastPaced;
    let went: (at: number) => void = () => {};
    this.lastPaced = new Promise((resolve) => {
      went = resolve;
    });
    const previousAt = await previous;
    try {
      await this.unpaused(previousAt + this.pacing.pacedSpacingMs, paced);
      went(Date.now());
    } catch (err) {
      // This one did not go: the next paced item is spaced from the one before it.
      went(previousAt);
      throw err;
    }
  }

  private async unpaused(earliest: number, paced: boolean): Promise<void> {
    for (;;) {
      const now = Date.now();
      const at = Math.max(now, earliest, this.pausedUntil);
      if (at > this.deadline()) {
        throw notStarted(
          `Not started: this call's ${Math.round(this.pacing.startBudgetMs / 1000)} s for starts ran out (${
            paced ? 'this model is started a few seconds apart' : 'FLORA asked the batch to slow down'
          }). Start it again in another call.`,
          true,
        );
      }
      if (at <= now) return;
      // A pause may begin or grow meanwhile: look again after waiting.
      await sleep(at - now, this.signal);
    }
  }

  private deadline(): number {
    return this.began + this.pacing.startBudgetMs;
  }
}

/**
 * Lost-answer recovery: a start reached FLORA and created its run, but the answer never reached
 * us (a retry was refused as a duplicate, or a 2xx body could not be read). The run is found in
 * FLORA's history of recent runs (newest first), never started again. Which history, and what
 * else a run must share with the start (project, model, technique), each kind of start says;
 * the rules every start shares are here. Ambiguity is reported, not guessed.
 */
import { epochMs } from './schemas.js';

/** Our clock and FLORA's may differ; a run created this long before the call still counts. */
const CLOCK_SKEW_MS = 30_000;
/**
 * How many of the newest runs to look through: the most one list call returns (FLORA's `limit`
 * is 1-100). A batch starts up to 20 runs at once in one project, and others may be starting
 * there too; with a page of 20, a lost start's run could be pushed off by its own batch, and the
 * start was refused as idempotency_duplicate when it could have been found. Recovery is rare
 * (a lost answer), so the larger page costs nothing on the common path.
 */
export const LOOKBACK_LIMIT = 100;

/** What every history item has that recovery reads. */
export interface RecentRun {
  run_id: string;
  status: string;
  created_at: number;
}

/**
 * The runs of `recent` that can be the lost start's (it is found when exactly one can): not one whose start this server already
 * answered (`isKnown`: those belong to other calls, which is what tells apart concurrent starts),
 * created after the first attempt began (less the clock skew), and `matches` (same project,
 * model, technique ...).
 */
export function pickLostRun<R extends RecentRun>(
  recent: readonly R[],
  firstAttemptAt: number,
  isKnown: (runId: string) => boolean,
  matches: (run: R) => boolean,
): R[] {
  return recent.filter((r) => {
    if (isKnown(r.run_id)) return false;
    const created = epochMs(r.created_at);
    if (created === undefined || created < firstAttemptAt - CLOCK_SKEW_MS) return false;
    return matches(r);
  });
}

/**
 * Whether a listing reaches back past every run the lost start can be: it is not a full page, or
 * its oldest run is older than the window. A full page of newer runs may have pushed the lost run
 * off it, and then a lone candidate on it is someone else's (seen in the soak: eight concurrent
 * starts in one project, a recovery that took a few seconds of retries).
 */
export function listingCovers(recent: readonly RecentRun[], firstAttemptAt: number, limit = LOOKBACK_LIMIT): boolean {
  if (recent.length < limit) return true;
  return recent.some((r) => {
    const created = epochMs(r.created_at);
    return created !== undefined && created < firstAttemptAt - CLOCK_SKEW_MS;
  });
}

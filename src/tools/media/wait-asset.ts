/**
 * Waiting inside one call for an asset to leave pending_upload (FLORA fetching a URL, or finishing
 * a signed upload): a poll a second, as FLORA's own SDK does, bounded by FLORA_MAX_WAIT_SECONDS,
 * with progress. `failed` is an error carrying FLORA's failure_message verbatim. A poll that fails
 * transiently ends the wait with the asset as last seen, so its ID is never lost.
 */
import { AssetFailedError, FloraError } from '../../errors.js';
import { ASSET_TERMINAL } from '../../flora/assets.js';
import type { Asset } from '../../flora/schemas.js';
import { sleep } from '../../sleep.js';
import type { ToolContext } from '../tool.js';

export const ASSET_POLL_MS = 1_000;

export interface AssetOutcome {
  asset: Asset;
  waitedSeconds: number;
  /** Set when a poll failed transiently; the asset shown is the last one seen. */
  pollError?: FloraError;
}

/**
 * Polls until `asset` is ready or failed, or `maxSeconds` run out. Progress goes from `fromPct`
 * towards 99 as the time allowed passes; `what` names the source in a failure.
 */
export async function waitForAsset(
  ctx: ToolContext,
  asset: Asset,
  maxSeconds: number,
  fromPct: number,
  what: string,
): Promise<AssetOutcome> {
  const started = Date.now();
  const deadline = started + maxSeconds * 1000;
  const waited = () => Math.round((Date.now() - started) / 1000);
  let current = asset;
  let pollError: FloraError | undefined;
  while (!ASSET_TERMINAL.has(current.status) && deadline - Date.now() >= ASSET_POLL_MS) {
    const share = Math.min(1, (Date.now() - started) / Math.max(1, maxSeconds * 1000));
    ctx.progress(fromPct + (99 - fromPct) * share, `asset ${current.status}, ${waited()} s`);
    await sleep(ASSET_POLL_MS, ctx.signal);
    try {
      current = await ctx.client.getAsset(current.asset_id, { signal: ctx.signal });
    } catch (err) {
      if (!(err instanceof FloraError) || err.code === 'cancelled' || !err.retryable) throw err;
      pollError = err;
      break;
    }
  }
  if (current.status === 'failed') {
    const reason = current.failure_message?.trim() ? `"${current.failure_message}"` : 'no reason given';
    throw AssetFailedError.of(
      `FLORA could not make an asset of ${what} (asset ${current.asset_id} failed: ${reason}). Check that the source is reachable and is media FLORA accepts, then call upload_media again; a URL FLORA cannot fetch can be downloaded and passed as a local file.`,
    );
  }
  if (current.status === 'ready') ctx.progress(100, 'ready');
  return { asset: current, waitedSeconds: waited(), ...(pollError ? { pollError } : {}) };
}

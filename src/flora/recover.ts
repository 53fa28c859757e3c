/**
 * Lost-answer recovery: a start reached FLORA and created its run, but the answer never reached
 * us (a retry was refused as a duplicate, or a 2xx body could not be read). The run is found in
 * GET /generations (same project and workspace, newest first, created after the first attempt
 * began, same model), never started again. Ambiguity is reported, not guessed.
 */
import type { FloraClient } from './client.js';
import { epochMs, type GenerateBody, type Generation } from './schemas.js';

/** Our clock and FLORA's may differ; a run created this long before the call still counts. */
const CLOCK_SKEW_MS = 30_000;
const LOOKBACK_LIMIT = 20;

export type Recovery = { found: Generation } | { found?: undefined; candidates: Generation[] };

/**
 * `isKnown` tells runs whose start this server already answered: they belong to other calls,
 * so they cannot be the lost one (this is what tells apart concurrent starts of one project).
 */
export async function findLostRun(
  client: FloraClient,
  body: GenerateBody,
  firstAttemptAt: number,
  signal: AbortSignal,
  isKnown: (runId: string) => boolean = () => false,
): Promise<Recovery> {
  const { generations } = await client.listGenerations(
    { workspace_id: body.workspace_id, project_id: body.project_id, limit: LOOKBACK_LIMIT },
    { signal },
  );
  const candidates = generations.filter((g) => {
    if (isKnown(g.run_id)) return false;
    if (g.project_id && g.project_id !== body.project_id) return false;
    if (g.workspace_id && g.workspace_id !== body.workspace_id) return false;
    const created = epochMs(g.created_at);
    if (created === undefined || created < firstAttemptAt - CLOCK_SKEW_MS) return false;
    const model = g.model?.model_id;
    return body.model === undefined || model === undefined || model === null || model === body.model;
  });
  return candidates.length === 1 && candidates[0] ? { found: candidates[0] } : { candidates };
}

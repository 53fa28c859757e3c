/**
 * A generation as a StartPlan: POST /generate with the key in the Idempotency-Key header; a lost
 * start is looked for in GET /generations (same workspace and project, same model).
 */
import { type CallOptions, GENERATION_WORDS, type FloraClient } from './client.js';
import { LOOKBACK_LIMIT } from './recover.js';
import type { GenerateBody, Generation } from './schemas.js';
import type { StartPlan } from './start.js';

/** `call` tunes the start's requests (a batch listens for 429s); the signal is the start's own. */
export function generationStart(
  client: FloraClient,
  body: GenerateBody,
  call: Omit<CallOptions, 'signal'> = {},
): StartPlan<Generation> {
  return {
    words: GENERATION_WORDS,
    start: async (key, signal) => ({ started: await client.generate(body, key, { ...call, signal }) }),
    recent: async (signal) =>
      (
        await client.listGenerations(
          { workspace_id: body.workspace_id, project_id: body.project_id, limit: LOOKBACK_LIMIT },
          { ...call, signal },
        )
      ).generations,
    matches(g) {
      if (g.project_id && g.project_id !== body.project_id) return false;
      if (g.workspace_id && g.workspace_id !== body.workspace_id) return false;
      const model = g.model?.model_id;
      return body.model === undefined || model === undefined || model === null || model === body.model;
    },
    asStarted: (g) => ({
      run_id: g.run_id,
      type: 'generation',
      estimated_seconds: null,
      charged_cost: g.charged_cost ?? null,
      poll_url: null,
      project_id: g.project_id ?? body.project_id,
      model: g.model ?? (body.model ? { model_id: body.model } : null),
    }),
  };
}

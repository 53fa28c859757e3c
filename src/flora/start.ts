/**
 * Start exactly once: one POST with one Idempotency-Key (the same on every retry), and when the
 * answer is lost on the way back, the run that start created is found again in FLORA's history,
 * never started a second time. Single, batch and technique starts all go through here.
 */
import { FloraApiError, FloraError } from '../errors.js';
import { isLostStart, type FloraClient } from './client.js';
import { findLostRun } from './recover.js';
import { epochMs, type GenerateBody, type StartRunResponse } from './schemas.js';

export interface Started {
  started: StartRunResponse;
  /** True when the run was found in the history because the start's answer was lost. */
  recovered: boolean;
  /** When the run started, as well as we know: FLORA's created_at for a recovered run. */
  startedAtMs: number;
}

export interface StartOptions {
  signal: AbortSignal;
  /** Runs whose start this server already answered: they belong to other calls. */
  isKnown(runId: string): boolean;
}

/** The run this call started: from FLORA's answer, or found again when that answer was lost. */
export async function startOrRecover(
  client: FloraClient,
  body: GenerateBody,
  idempotencyKey: string,
  opts: StartOptions,
): Promise<Started> {
  const firstAttemptAt = Date.now();
  let started: StartRunResponse;
  try {
    started = await client.generate(body, idempotencyKey, { signal: opts.signal });
  } catch (err) {
    if (!isLostStart(err)) throw err;
    const found = await recover(client, body, firstAttemptAt, err, opts);
    return { started: found, recovered: true, startedAtMs: epochMs(found.created_at) ?? firstAttemptAt };
  }
  return { started, recovered: false, startedAtMs: Date.now() };
}

async function recover(
  client: FloraClient,
  body: GenerateBody,
  firstAttemptAt: number,
  lost: FloraError,
  opts: StartOptions,
): Promise<StartRunResponse & { created_at: number }> {
  const lookup = await findLostRun(client, body, firstAttemptAt, opts.signal, opts.isKnown).catch((err: unknown) => {
    const why = err instanceof FloraError ? err.code : String(err);
    throw lost.retold(`${lost.message} Looking the run up in the project's history failed too (${why}).`);
  });
  if (lookup.found) {
    const g = lookup.found;
    return {
      run_id: g.run_id,
      type: 'generation',
      estimated_seconds: null,
      charged_cost: g.charged_cost ?? null,
      poll_url: null,
      project_id: g.project_id ?? body.project_id,
      model: g.model ?? (body.model ? { model_id: body.model } : null),
      created_at: g.created_at,
    };
  }
  const list = lookup.candidates.map((c) => `${c.run_id} (${c.status}, created_at ${c.created_at})`).join(', ');
  throw new FloraApiError(
    'idempotency_duplicate',
    `${lost.message} It could not be identified unambiguously in the project's recent generations: ${
      list
        ? `candidates ${list}. Ask the user which one it is, or poll each with poll_run.`
        : "none matched yet; try poll_run later on the project's newest runs."
    } Do not start the generation again.`,
    { status: lost.status, requestId: lost.requestId, idempotencyKey: lost.idempotencyKey },
  );
}

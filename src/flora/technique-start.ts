/**
 * A technique run as a StartPlan, and which of FLORA's two start routes it takes.
 *
 * - POST /techniques/{technique_id}/runs (preferred): FLORA measured it to honour idempotency for
 *   techniques through the body's idempotency_key (it ignores the Idempotency-Key header). Its
 *   inputs are [{id, type, value}] with type text, imageUrl or videoUrl only, at least one.
 * - POST /runs/technique: inputs as a map {id: value}, technique_id and workspace_id in the body,
 *   the key in the Idempotency-Key header (documented, not measured by FLORA), no callback_url.
 *   Taken only when the first cannot carry the run: the technique declares an input type outside
 *   text/imageUrl/videoUrl (audioUrl, documentUrl), there is no input to send, or the definition
 *   could not be read (the declared types the first route needs are then unknown).
 *
 * Either way one key serves every retry of the call, and a lost start is looked for in
 * GET /technique-runs (same workspace and technique), never started again.
 */
import { FloraError } from '../errors.js';
import { type FloraClient, TECHNIQUE_RUN_WORDS } from './client.js';
import { LOOKBACK_LIMIT } from './recover.js';
import { RunStatus, type StartRunResponse, type Technique, type TechniqueRunItem, type TechniqueRunStarted } from './schemas.js';
import type { StartAnswer, StartPlan } from './start.js';
import type { PreparedInput } from './technique-inputs.js';

/** The input types POST /techniques/{id}/runs can carry (its inputs' type enum). */
const NESTED_ROUTE_TYPES: ReadonlySet<string> = new Set(['text', 'imageUrl', 'videoUrl']);

export type TechniqueRoute = 'POST /techniques/{id}/runs' | 'POST /runs/technique';

export interface TechniqueRunRequest {
  techniqueId: string;
  workspaceId: string;
  inputs: PreparedInput[];
  callbackUrl?: string;
  /** The definition, when it could be read. */
  technique: Technique | undefined;
  /** The route this call's idempotency key already went out on, if this server sent it before. */
  keyRoute?: string;
  idempotencyKey: string;
}

export interface TechniqueRunPlan {
  plan: StartPlan<TechniqueRunItem>;
  route: TechniqueRoute;
  /** Why that route. */
  reason: string;
  warnings: string[];
}

/** Which route carries this run, and why. */
export function routeFor(technique: Technique | undefined, inputCount: number): { route: TechniqueRoute; reason: string } {
  if (technique === undefined) {
    return {
      route: 'POST /runs/technique',
      reason: "the technique's definition could not be read, so its input types are unknown",
    };
  }
  const uncarried = [...new Set(technique.inputs.map((i) => i.type).filter((t) => !NESTED_ROUTE_TYPES.has(t)))];
  if (uncarried.length > 0) {
    return {
      route: 'POST /runs/technique',
      reason: `it declares ${uncarried.join(', ')} inputs, which POST /techniques/{id}/runs cannot carry`,
    };
  }
  if (inputCount === 0) {
    return { route: 'POST /runs/technique', reason: 'no input is sent, and POST /techniques/{id}/runs needs at least one' };
  }
  return { route: 'POST /techniques/{id}/runs', reason: 'the route FLORA measured to honour idempotency for techniques' };
}

/**
 * The route for a call whose key this server already sent: FLORA tells a repeated key only on
 * the route that saw it first, so a retry goes there too, or nowhere.
 */
function pinnedRoute(req: TechniqueRunRequest): { route: TechniqueRoute; reason: string } {
  const free = routeFor(req.technique, req.inputs.length);
  if (req.keyRoute === undefined || req.keyRoute === free.route) return free;
  if (req.keyRoute === 'POST /runs/technique') {
    return { route: req.keyRoute, reason: 'a retry goes to the route its idempotency_key was first sent to' };
  }
  throw new FloraError(
    'technique_unavailable',
    `idempotency_key "${req.idempotencyKey}" was first sent to ${req.keyRoute}, and a retry must go there too (FLORA knows a key only on its own route), but this run cannot go there now: ${free.reason}. Nothing was sent, so nothing can have started twice; try again in a minute with the same idempotency_key.`,
    { retryable: true, idempotencyKey: req.idempotencyKey },
  );
}

/** How this run starts, and how it is found again when the start's answer is lost. */
export function techniqueRunPlan(client: FloraClient, req: TechniqueRunRequest): TechniqueRunPlan {
  const { techniqueId, workspaceId } = req;
  const { route, reason } = pinnedRoute(req);
  const warnings: string[] = [];
  let start: StartPlan<TechniqueRunItem>['start'];
  if (route === 'POST /techniques/{id}/runs') {
    const body = {
      inputs: req.inputs.map((i) => ({ id: i.id, type: i.type ?? 'text', value: i.value })),
      mode: 'async' as const,
      ...(req.callbackUrl === undefined ? {} : { callback_url: req.callbackUrl }),
    };
    start = async (key, signal) => fromRunState(await client.startTechniqueRun(techniqueId, body, key, { signal }));
  } else {
    if (req.callbackUrl !== undefined) {
      if (req.technique !== undefined) {
        throw new FloraError(
          'input_validation_error',
          `callback_url cannot be used with ${techniqueId}: ${reason}, so it starts through POST /runs/technique, which takes no callback_url. Leave it out and follow the run with poll_run; nothing was sent to FLORA.`,
          { fields: [{ field: 'callback_url', message: `not accepted for this technique: ${reason}` }], retryable: false },
        );
      }
      warnings.push(`callback_url was not sent: ${reason}, so the run starts through POST /runs/technique, which takes none.`);
    }
    const body = {
      technique_id: techniqueId,
      workspace_id: workspaceId,
      inputs: Object.fromEntries(req.inputs.map((i) => [i.id, i.value])),
    };
    start = async (key, signal) => ({ started: await client.startTechniqueRunLegacy(body, key, { signal }) });
  }
  const name = req.technique?.name;
  return {
    route,
    reason,
    warnings,
    plan: {
      words: TECHNIQUE_RUN_WORDS,
      start,
      recent: async (signal) =>
        (
          await client.listTechniqueRuns(
            { workspace_id: workspaceId, technique_id: techniqueId, limit: LOOKBACK_LIMIT },
            { signal },
          )
        ).technique_runs,
      matches: (r) =>
        (r.technique?.technique_id ?? techniqueId) === techniqueId && (!r.workspace_id || r.workspace_id === workspaceId),
      asStarted: (r) => ({
        run_id: r.run_id,
        type: 'technique',
        estimated_seconds: null,
        charged_cost: r.charged_cost ?? null,
        project_id: r.project_id ?? null,
        status: r.status,
        technique: { technique_id: techniqueId, ...(name === undefined ? {} : { name }) },
      }),
    },
  };

  /** The nested route answers the run's state, not the start envelope: told as one, the state kept. */
  function fromRunState(s: TechniqueRunStarted): StartAnswer {
    const state = RunStatus.safeParse(s);
    return { started: envelope(s), ...(state.success ? { state: state.data } : {}) };
  }

  function envelope(s: TechniqueRunStarted): StartRunResponse {
    return {
      run_id: s.run_id,
      type: 'technique',
      estimated_seconds: s.estimated_seconds ?? null,
      charged_cost: s.charged_cost ?? null,
      project_id: s.project_id ?? null,
      technique: { technique_id: techniqueId, ...(name === undefined ? {} : { name }) },
    };
  }
}

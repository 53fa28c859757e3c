/**
 * FLORA's technique routes for the fake (shared/flora-api.md §2.9-2.13, flora-media-techniques.md
 * §3), served by FakeFlora through `techniqueRoute`:
 * - GET /techniques (query, workspace_id, cursor, limit) and GET /techniques/{id or slug};
 * - POST /techniques/{id or slug}/runs: inputs as [{id, type, value}] with type text, imageUrl or
 *   videoUrl only, mode required, the body's idempotency_key honoured (a repeat is 409, as FLORA
 *   measured; `techniqueKeyReplay` makes it replay the run instead, as its docs say) and the
 *   Idempotency-Key header ignored; answers the run's state;
 * - POST /runs/technique: technique_id (an ID, not a slug), workspace_id and inputs as a map, the
 *   Idempotency-Key header honoured, no callback_url; answers the start envelope;
 * - GET /techniques/{id or slug}/runs/{run_id} and GET /technique-runs.
 * Both starts check the inputs against the definition as FLORA does: unknown IDs, wrong types,
 * empty strings and missing required inputs are a 400 input_validation_error.
 * GET /runs/{id} answers 404 for technique runs and GET /generations leaves them out (fake-flora.ts).
 */
import type { FakeFlora, FakeRun, RecordedRequest, Reply } from './fake-flora.js';
import { floraError } from './fake-flora.js';

export type TechniqueIOType = 'imageUrl' | 'videoUrl' | 'audioUrl' | 'documentUrl' | 'text';

export type FakeTechniqueIO = {
  id: string;
  name: string;
  type: TechniqueIOType;
  description?: string;
  optional?: boolean;
  accepts_element?: boolean;
};

export type FakeTechnique = {
  technique_id: string;
  name: string;
  description: string;
  run_cost: number;
  inputs: FakeTechniqueIO[];
  outputs: FakeTechniqueIO[];
  /** Not FLORA's: the only workspace that sees it, when set. Never served. */
  only_in?: string;
};

export const TECHNIQUES: FakeTechnique[] = [
  {
    technique_id: 'tech_product-shot',
    name: 'Product shot',
    description:
      'Places a product photo in a styled studio scene with soft shadows and a matching backdrop, ready for a storefront. Works best with a clean cut-out of the product on a plain background.',
    run_cost: 0.05,
    inputs: [
      { id: 'product', name: 'Product photo', type: 'imageUrl', description: 'The product, ideally on a plain background.' },
      { id: 'scene', name: 'Scene', type: 'text', optional: true, description: 'Where to place it.' },
      { id: 'style_ref', name: 'Style reference', type: 'imageUrl', optional: true },
    ],
    outputs: [{ id: 'shot', name: 'Shot', type: 'imageUrl' }],
  },
  {
    technique_id: 'tech_video-restyle',
    name: 'Video restyle',
    description: 'Restyles a short clip in the look a prompt describes.',
    run_cost: 0.8,
    inputs: [
      { id: 'clip', name: 'Clip', type: 'videoUrl' },
      { id: 'style', name: 'Style', type: 'text' },
    ],
    outputs: [{ id: 'video', name: 'Video', type: 'videoUrl' }],
  },
  {
    technique_id: 'tech_podcast-cover',
    name: 'Podcast cover',
    description: 'Listens to an episode and designs its cover art.',
    run_cost: 0.12,
    inputs: [
      { id: 'episode', name: 'Episode audio', type: 'audioUrl' },
      { id: 'title', name: 'Title', type: 'text' },
      { id: 'notes', name: 'Show notes', type: 'documentUrl', optional: true },
    ],
    outputs: [{ id: 'cover', name: 'Cover', type: 'imageUrl' }],
  },
  {
    technique_id: 'tech_art-directors-critique',
    name: "Art director's critique",
    description: 'Critiques an image as an art director would.',
    run_cost: 0,
    inputs: [{ id: 'image', name: 'Image', type: 'imageUrl', accepts_element: true }],
    outputs: [{ id: 'critique', name: 'Critique', type: 'text' }],
  },
  {
    technique_id: 'tech_client-moodboard',
    name: 'Client moodboard',
    description: 'A moodboard in the client house style.',
    run_cost: 0.3,
    inputs: [{ id: 'brief', name: 'Brief', type: 'text' }],
    outputs: [{ id: 'board', name: 'Board', type: 'imageUrl' }],
    only_in: 'ws_client',
  },
];

/** The technique with this ID; throws when there is none, so no test passes on nothing. */
export function techniqueById(id: string): FakeTechnique {
  const t = TECHNIQUES.find((x) => x.technique_id === id);
  if (!t) throw new Error(`TECHNIQUES has no technique "${id}"`);
  return t;
}

/** A technique as FLORA serves it. */
export function served(t: FakeTechnique): Record<string, unknown> {
  const { only_in: _only, ...rest } = t;
  return rest;
}

/** The types POST /techniques/{id}/runs accepts in its inputs; audioUrl and documentUrl are not among them. */
const NESTED_TYPES = new Set(['text', 'imageUrl', 'videoUrl']);
const NESTED_FIELDS = new Set(['inputs', 'mode', 'callback_url', 'idempotency_key']);
const LEGACY_FIELDS = new Set(['technique_id', 'workspace_id', 'inputs']);
const KIND: Record<TechniqueIOType, FakeRun['type']> = {
  imageUrl: 'image',
  videoUrl: 'video',
  audioUrl: 'audio',
  documentUrl: 'text',
  text: 'text',
};

type Issue = { field: string; message: string };

/** The default route for a technique request, or undefined when `key` is not one. */
export function techniqueRoute(fake: FakeFlora, key: string): ((req: RecordedRequest) => Reply) | undefined {
  switch (key) {
    case 'GET /techniques':
      return (req) => list(fake, req);
    case 'GET /techniques/:id':
      return (req) => {
        const t = find(fake, segment(req, 2));
        return t ? { status: 200, body: served(t) } : floraError(404, 'not_found', 'Technique not found.');
      };
    case 'POST /techniques/:id/runs':
      return (req) => startNested(fake, req);
    case 'POST /runs/technique':
      return (req) => startLegacy(fake, req);
    case 'GET /techniques/:id/runs/:id':
      return (req) => {
        const t = find(fake, segment(req, 2));
        const run = fake.runs.get(segment(req, 4));
        if (!t || !run || run.technique_id !== t.technique_id) return floraError(404, 'not_found', 'Technique run not found.');
        return { status: 200, body: fake.runView(run) };
      };
    case 'GET /technique-runs':
      return (req) => listRuns(fake, req);
    default:
      return undefined;
  }
}

function segment(req: RecordedRequest, i: number): string {
  return req.path.split('/')[i] ?? '';
}

/** By ID or by slug (the ID without "tech_"), as FLORA's path parameter takes either. */
function find(fake: FakeFlora, idOrSlug: string): FakeTechnique | undefined {
  return fake.techniques.find((t) => t.technique_id === idOrSlug || t.technique_id === `tech_${idOrSlug}`);
}

function offsetOf(cursor: string | undefined): number {
  return cursor ? Number(Buffer.from(cursor, 'base64url').toString()) : 0;
}

function page<T>(all: T[], offset: number, limit: number): { items: T[]; next: string | null } {
  const next = offset + limit < all.length ? Buffer.from(String(offset + limit)).toString('base64url') : null;
  return { items: all.slice(offset, offset + limit), next };
}

function list(fake: FakeFlora, req: RecordedRequest): Reply {
  const { workspace_id, query } = req.query;
  const limit = Number(req.query.limit ?? 20);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    return floraError(400, 'input_validation_error', 'Invalid query.', [{ field: 'limit', message: 'limit must be 1-100.' }]);
  }
  if (workspace_id !== undefined && !/^ws_\S+$/.test(workspace_id)) {
    return floraError(400, 'input_validation_error', 'Invalid query.', [
      { field: 'workspace_id', message: 'workspace_id must start with ws_.' },
    ]);
  }
  const q = query?.toLowerCase();
  const all = fake.techniques.filter(
    (t) =>
      (t.only_in === undefined || t.only_in === workspace_id) &&
      (q === undefined || t.name.toLowerCase().includes(q) || t.description.toLowerCase().includes(q)),
  );
  const { items, next } = page(all, offsetOf(req.query.cursor), limit);
  return { status: 200, body: { techniques: items.map(served), meta: { next_cursor: next, total_estimate: all.length } } };
}

/** FLORA's checks of inputs against the definition, given as id -> {type?, value}. */
function checkInputs(
  t: FakeTechnique,
  given: Map<string, { type?: unknown; value: unknown }>,
  at: (id: string) => string,
): Issue[] {
  const issues: Issue[] = [];
  for (const [id, input] of given) {
    const declared = t.inputs.find((i) => i.id === id);
    if (!declared) {
      issues.push({ field: at(id), message: `Unknown input "${id}".` });
      continue;
    }
    if (input.type !== undefined && input.type !== declared.type) {
      issues.push({ field: at(id), message: `Input "${id}" must have type ${declared.type}.` });
    }
    if (typeof input.value !== 'string') issues.push({ field: at(id), message: 'value must be a string.' });
    else if (input.value === '') issues.push({ field: at(id), message: 'value must not be empty.' });
  }
  for (const declared of t.inputs) {
    if (!declared.optional && !given.has(declared.id)) {
      issues.push({ field: at(declared.id), message: `Input "${declared.id}" is required.` });
    }
  }
  return issues;
}

function bodyOf(req: RecordedRequest): Record<string, unknown> | Reply {
  if (req.rawBody !== '' && req.body === undefined) return floraError(400, 'invalid_json', 'Request body is not valid JSON.');
  const b = req.body;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) {
    return floraError(400, 'input_validation_error', 'Request body must be an object.');
  }
  return b as Record<string, unknown>;
}

function isReply(x: unknown): x is Reply {
  return typeof x === 'object' && x !== null && 'status' in x && typeof (x as Reply).status === 'number';
}

function startNested(fake: FakeFlora, req: RecordedRequest): Reply {
  const t = find(fake, segment(req, 2));
  if (!t) return floraError(404, 'not_found', 'Technique not found.');
  const b = bodyOf(req);
  if (isReply(b)) return b;
  const issues: Issue[] = [];
  for (const k of Object.keys(b)) if (!NESTED_FIELDS.has(k)) issues.push({ field: k, message: 'Unrecognized field.' });
  if (b.mode !== 'async' && b.mode !== 'stream') issues.push({ field: 'mode', message: 'mode must be async or stream.' });
  if (b.callback_url !== undefined && (typeof b.callback_url !== 'string' || !b.callback_url.startsWith('https://'))) {
    issues.push({ field: 'callback_url', message: 'callback_url must be an https URL.' });
  }
  if (b.idempotency_key !== undefined && typeof b.idempotency_key !== 'string') {
    issues.push({ field: 'idempotency_key', message: 'idempotency_key must be a string.' });
  }
  const given = new Map<string, { type?: unknown; value: unknown }>();
  if (!Array.isArray(b.inputs) || b.inputs.length < 1) {
    issues.push({ field: 'inputs', message: 'inputs must be an array with at least 1 item.' });
  } else {
    b.inputs.forEach((item: unknown, i) => {
      const it = item as Record<string, unknown>;
      if (typeof it !== 'object' || it === null || typeof it.id !== 'string') {
        issues.push({ field: `inputs.${i}.id`, message: 'id is required.' });
      } else if (typeof it.type !== 'string' || !NESTED_TYPES.has(it.type)) {
        issues.push({ field: `inputs.${i}.type`, message: 'type must be one of text, imageUrl, videoUrl.' });
      } else given.set(it.id, { type: it.type, value: it.value });
    });
  }
  if (issues.length === 0) issues.push(...checkInputs(t, given, (id) => `inputs.${id}`));
  if (issues.length > 0) return floraError(400, 'input_validation_error', 'Invalid request body.', issues);

  const key = typeof b.idempotency_key === 'string' ? b.idempotency_key : undefined;
  const earlier = key === undefined ? undefined : fake.techniqueKeys.get(`nested ${key}`);
  if (earlier !== undefined) {
    const run = fake.runs.get(earlier);
    if (fake.techniqueKeyReplay && run) return { status: 200, body: fake.runView(run) };
    return floraError(409, 'idempotency_duplicate', 'Duplicate idempotency key.');
  }
  const run = createRun(fake, t, fake.keyWorkspaceId, new Map([...given].map(([id, v]) => [id, String(v.value)])), key);
  if (key !== undefined) fake.techniqueKeys.set(`nested ${key}`, run.run_id);
  return { status: 201, body: fake.runView(run) };
}

function startLegacy(fake: FakeFlora, req: RecordedRequest): Reply {
  const b = bodyOf(req);
  if (isReply(b)) return b;
  const issues: Issue[] = [];
  for (const k of Object.keys(b)) if (!LEGACY_FIELDS.has(k)) issues.push({ field: k, message: 'Unrecognized field.' });
  if (typeof b.technique_id !== 'string' || !/^tech_\S+$/.test(b.technique_id)) {
    issues.push({ field: 'technique_id', message: 'technique_id must start with tech_.' });
  }
  if (typeof b.workspace_id !== 'string' || !/^ws_\S+$/.test(b.workspace_id)) {
    issues.push({ field: 'workspace_id', message: 'workspace_id must start with ws_.' });
  }
  const inputs = b.inputs;
  if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) {
    issues.push({ field: 'inputs', message: 'inputs must be an object.' });
  }
  if (issues.length > 0) return floraError(400, 'input_validation_error', 'Invalid request body.', issues);
  const t = fake.techniques.find((x) => x.technique_id === b.technique_id);
  if (!t) return floraError(404, 'not_found', 'Technique not found.');
  const given = new Map(Object.entries(inputs as Record<string, unknown>).map(([id, value]) => [id, { value }]));
  const inputIssues = checkInputs(t, given, (id) => `inputs.${id}`);
  if (inputIssues.length > 0) return floraError(400, 'input_validation_error', 'Invalid request body.', inputIssues);

  const header = req.headers['idempotency-key'];
  const key = typeof header === 'string' ? header : undefined;
  if (key !== undefined && fake.techniqueKeys.has(`legacy ${key}`)) {
    return floraError(409, 'idempotency_duplicate', 'Duplicate idempotency key.');
  }
  const values = new Map([...given].map(([id, v]) => [id, String(v.value)]));
  const run = createRun(fake, t, b.workspace_id as string, values, key);
  if (key !== undefined) fake.techniqueKeys.set(`legacy ${key}`, run.run_id);
  return {
    status: 201,
    body: {
      run_id: run.run_id,
      type: 'technique',
      estimated_seconds: Math.ceil(run.duration_ms / 1000),
      charged_cost: run.charged_cost,
      // FLORA's envelope points at GET /runs/{id}, which does not serve technique runs.
      poll_url: `${fake.baseUrl}/runs/${run.run_id}`,
      project_id: run.project_id,
      model: null,
      technique: { technique_id: t.technique_id, name: t.name },
      action: null,
    },
  };
}

function createRun(
  fake: FakeFlora,
  t: FakeTechnique,
  workspaceId: string,
  inputs: Map<string, string>,
  key: string | undefined,
): FakeRun {
  const n = fake.runs.size + 1;
  const run: FakeRun = {
    run_id: `run_t${n.toString(36)}${Math.random().toString(36).slice(2, 8)}`,
    workspace_id: workspaceId,
    // A technique run takes no project: FLORA makes one for it.
    project_id: `prj_technique${n}`,
    type: KIND[t.outputs[0]?.type ?? 'imageUrl'],
    model_id: '',
    prompt: t.name,
    idempotency_key: key,
    created_at: Date.now(),
    duration_ms: fake.runPlan.durationMs,
    fail: fake.runPlan.fail,
    charged_cost: t.run_cost,
    technique_id: t.technique_id,
    technique_inputs: Object.fromEntries(inputs),
    ...(fake.runPlan.outputs ? { outputs: fake.runPlan.outputs } : {}),
  };
  fake.runs.set(run.run_id, run);
  return run;
}

function listRuns(fake: FakeFlora, req: RecordedRequest): Reply {
  const { workspace_id, project_id, technique_id, status } = req.query;
  const limit = Number(req.query.limit ?? 20);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    return floraError(400, 'input_validation_error', 'Invalid query.', [{ field: 'limit', message: 'limit must be 1-100.' }]);
  }
  const all = [...fake.runs.values()]
    .filter(
      (r) =>
        r.technique_id !== undefined &&
        (workspace_id === undefined || r.workspace_id === workspace_id) &&
        (project_id === undefined || r.project_id === project_id) &&
        (technique_id === undefined || r.technique_id === technique_id),
    )
    .map((r) => ({ run: r, view: fake.runView(r) }))
    .filter(({ view }) => status === undefined || view.status === status)
    .sort((a, b) => b.run.created_at - a.run.created_at);
  const { items, next } = page(all, offsetOf(req.query.cursor), limit);
  return {
    status: 200,
    body: {
      technique_runs: items.map(({ run, view }) => ({
        ...view,
        technique_run_id: run.run_id,
        technique: { technique_id: run.technique_id, name: find(fake, run.technique_id ?? '')?.name ?? null },
        project_id: run.project_id,
        workspace_id: run.workspace_id,
      })),
      meta: { next_cursor: next, total_estimate: all.length },
    },
  };
}

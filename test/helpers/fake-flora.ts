/**
 * A fake FLORA API: a real node:http server on 127.0.0.1:0, serving the shapes of
 * shared/flora-api.md under /api/v1 (so base-path joining is exercised), with the
 * {error:{code,message,fields}} envelope and each code's HTTP status. It records every request;
 * tests override single routes (for one request or for good); a request no route serves is
 * answered 404 and kept in `unrouted`, which `assertAllRouted()` turns into a test failure.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeAssets } from './fake-assets.js';
import { FakeMedia } from './fake-media.js';
import { type FakeTechnique, TECHNIQUES, techniqueRoute } from './fake-techniques.js';

export const FAKE_KEY = 'sk_live_fake_4f9a7c2e1b';
export const BASE_PATH = '/api/v1';

export interface RecordedRequest {
  method: string;
  /** Path below /api/v1, e.g. "/runs/run_1". */
  path: string;
  /** Path exactly as received, before decoding. */
  rawPath: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** Parsed JSON body, or undefined when absent or not JSON. */
  body: unknown;
  /** The multipart/form-data body, parsed (file parts are Files with their bytes). */
  form?: FormData;
  at: number;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface HandlerContext {
  fake: FakeFlora;
  /** What the faithful default route would answer (and do: a POST /generate creates its run). */
  defaultReply(): Reply;
}

/** Return a Reply to have it sent, or nothing when the handler wrote or dropped `res` itself. */
// biome-ignore lint/suspicious/noConfusingVoidType: a handler that writes or drops `res` itself returns nothing.
export type Handler = (req: RecordedRequest, res: ServerResponse, ctx: HandlerContext) => Reply | void | Promise<Reply | void>;

// Types, not interfaces, so that a fixture model is also a src `Model` (whose index signature an
// interface would not satisfy) for tests that hand models to src directly.
export type FakeParam = {
  name: string;
  type: string;
  required: boolean;
  default?: unknown;
  min?: number;
  max?: number;
  options?: Array<{ label: string; value: unknown }>;
};

export type FakeModel = {
  model_id: string;
  name: string;
  type: 'image' | 'video' | 'audio' | 'text';
  provider: string;
  capabilities: string[];
  estimated_credits: number;
  estimated_seconds: number;
  params: FakeParam[];
  beta?: boolean;
};

export const MODELS: FakeModel[] = [
  {
    model_id: 't2i-flux-2-pro',
    name: 'FLUX.2 Pro',
    type: 'image',
    provider: 'bfl',
    capabilities: ['text-to-image'],
    estimated_credits: 40,
    estimated_seconds: 12,
    params: [
      {
        name: 'aspect_ratio',
        type: 'string',
        required: false,
        default: '1:1',
        options: [
          { label: 'Square', value: '1:1' },
          { label: 'Wide', value: '16:9' },
        ],
      },
      { name: 'seed', type: 'seed', required: false },
    ],
  },
  {
    model_id: 't2v-kling-2',
    name: 'Kling 2',
    type: 'video',
    provider: 'kling',
    capabilities: ['text-to-video'],
    estimated_credits: 400,
    estimated_seconds: 90,
    beta: true,
    params: [{ name: 'duration', type: 'int', required: false, default: 5, min: 5, max: 10 }],
  },
  {
    model_id: 't2a-eleven-sfx',
    name: 'ElevenLabs SFX',
    type: 'audio',
    provider: 'elevenlabs',
    capabilities: ['text-to-audio'],
    estimated_credits: 20,
    estimated_seconds: 8,
    params: [],
  },
  {
    model_id: 'llm-claude',
    name: 'Claude',
    type: 'text',
    provider: 'anthropic',
    capabilities: ['text-generation'],
    estimated_credits: 2,
    estimated_seconds: 4,
    params: [],
  },
  // Models that take input media. As FLORA's catalog often does, none lists its media param
  // (image_url, image_urls, video_url): the ID prefix and capabilities are what tell.
  {
    model_id: 'i2v-kling-2.5',
    name: 'Kling 2.5 Turbo Pro',
    type: 'video',
    provider: 'kling',
    capabilities: ['image-to-video'],
    estimated_credits: 327,
    estimated_seconds: 120,
    params: [
      {
        name: 'duration',
        type: 'string',
        required: false,
        default: '5',
        options: [
          { label: '5 seconds', value: '5' },
          { label: '10 seconds', value: '10' },
        ],
      },
    ],
  },
  {
    model_id: 'i2i-qwen-image-edit',
    name: 'Qwen Image Edit',
    type: 'image',
    provider: 'alibaba',
    capabilities: ['image-to-image'],
    estimated_credits: 40,
    estimated_seconds: 25,
    params: [
      {
        name: 'aspect_ratio',
        type: 'string',
        required: false,
        default: '1:1',
        options: [
          { label: 'Square', value: '1:1' },
          { label: 'Portrait', value: '9:16' },
          { label: 'Wide', value: '16:9' },
        ],
      },
    ],
  },
  {
    model_id: 'i2t-gemini-2.5-flash',
    name: 'Gemini 2.5 Flash (vision)',
    type: 'text',
    provider: 'google',
    capabilities: ['image-to-text'],
    estimated_credits: 3,
    estimated_seconds: 6,
    params: [],
  },
  {
    model_id: 'v2v-runway-aleph',
    name: 'Runway Aleph',
    type: 'video',
    provider: 'runway',
    capabilities: ['video-to-video'],
    estimated_credits: 600,
    estimated_seconds: 150,
    params: [],
  },
];

/** The model of MODELS with this ID; throws when there is none, so no test passes on nothing. */
export function modelById(id: string): FakeModel {
  const model = MODELS.find((m) => m.model_id === id);
  if (!model) throw new Error(`MODELS has no model "${id}"`);
  return model;
}

export interface FakeWorkspace {
  workspace_id: string;
  name: string;
  created_at: number | null;
  role: string;
}

export interface FakeProject {
  project_id: string;
  name: string;
  workspace_id: string;
  origin: string | null;
  last_modified: number | null;
  created_at: number;
}

export const WORKSPACES: FakeWorkspace[] = [
  { workspace_id: 'ws_studio', name: 'Studio', created_at: 1_767_225_600_000, role: 'owner' },
  { workspace_id: 'ws_client', name: 'Client work', created_at: 1_767_312_000_000, role: 'member' },
];

/** 25 projects in ws_studio (most recently active first), 1 in ws_client; names repeat. */
export const PROJECTS: FakeProject[] = [
  ...Array.from({ length: 25 }, (_, i) => ({
    project_id: `prj_s${String(i + 1).padStart(2, '0')}`,
    name: i % 5 === 0 ? 'Mug shoot' : `Campaign ${i + 1}`,
    workspace_id: 'ws_studio',
    origin: i % 2 === 0 ? 'canvas' : 'api',
    last_modified: 1_790_000_000_000 - i * 60_000,
    created_at: 1_780_000_000_000 + i,
  })),
  {
    project_id: 'prj_c01',
    name: 'Mug shoot',
    workspace_id: 'ws_client',
    origin: 'api',
    last_modified: 1_789_000_000_000,
    created_at: 1_781_000_000_000,
  },
];

/** The input media of each fixture model that takes any, written out by hand (an oracle, not a derivation). */
export const MODEL_INPUTS: Readonly<Record<string, readonly string[]>> = {
  'i2v-kling-2.5': ['image'],
  'i2i-qwen-image-edit': ['image'],
  'i2t-gemini-2.5-flash': ['image'],
  'v2v-runway-aleph': ['video'],
};

/**
 * The test oracle for list_models' default (compact) view of a model: exactly these keys, param
 * names only, inputs only for models that take media, beta only when FLORA sent it. Written out
 * here, not taken from src.
 */
export function compactModel(m: FakeModel): Record<string, unknown> {
  const inputs = MODEL_INPUTS[m.model_id];
  return {
    model_id: m.model_id,
    name: m.name,
    type: m.type,
    ...(inputs ? { inputs } : {}),
    provider: m.provider,
    estimated_seconds: m.estimated_seconds,
    estimated_credits: m.estimated_credits,
    params: m.params.map((p) => p.name),
    ...(m.beta !== undefined ? { beta: m.beta } : {}),
  };
}

export interface FakeRun {
  run_id: string;
  workspace_id: string;
  project_id: string;
  type: FakeModel['type'];
  model_id: string;
  prompt: string;
  idempotency_key: string | undefined;
  created_at: number;
  duration_ms: number;
  fail?: { code: string; message: string };
  charged_cost: number;
  /** Set for a technique run (fake-techniques.ts): its technique, and the inputs it was given. */
  technique_id?: string;
  technique_inputs?: Record<string, string>;
  /** What the run shows once completed, instead of one output on media.flora.ai (preview_media). */
  outputs?: Array<{ type: string; url: string }>;
}

/** How the next runs behave; tests change it before a start. */
export interface RunPlan {
  durationMs: number;
  fail?: { code: string; message: string };
  /** The outputs the next runs show once completed (e.g. files of `fake.media`). */
  outputs?: Array<{ type: string; url: string }>;
}

const TYPES = new Set(['image', 'video', 'audio', 'text']);
const BODY_FIELDS = new Set(['type', 'prompt', 'workspace_id', 'project_id', 'model', 'params', 'callback_url']);
const OUTPUT: Record<FakeModel['type'], { type: string; ext: string }> = {
  image: { type: 'imageUrl', ext: 'png' },
  video: { type: 'videoUrl', ext: 'mp4' },
  audio: { type: 'audioUrl', ext: 'mp3' },
  text: { type: 'text', ext: '' },
};

export function floraError(
  status: number,
  code: string,
  message: string,
  fields?: Array<{ field: string; message: string }>,
): Reply {
  return { status, body: { error: fields ? { code, message, fields } : { code, message } } };
}

/** Ready-made faults for route overrides. */
export const faults = {
  /** Destroy the socket before any byte of the answer: the client sees a reset connection. */
  reset: ((_req, res) => {
    res.socket?.resetAndDestroy();
  }) as Handler,
  /** Never answer. */
  hang: (() => new Promise<void>(() => {})) as Handler,
  /** An HTML page, as a proxy or load balancer sends. */
  html(status: number): Handler {
    return () => ({
      status,
      headers: { 'content-type': 'text/html' },
      body: `<html><body><h1>${status} Bad Gateway</h1></body></html>`,
    });
  },
  /** A JSON body cut short, with a Content-Length that matches what is sent. */
  truncated(status = 200): Handler {
    return () => ({ status, headers: { 'content-type': 'application/json' }, body: '{"run_id":"run_x","sta' });
  },
};

/** POST /generate as FLORA answers it, but with FLORA's estimate of the run's length set to `seconds`. */
export function estimatedStart(seconds: number): Handler {
  return (_req, _res, ctx) => {
    const reply = ctx.defaultReply();
    return { ...reply, body: { ...(reply.body as object), estimated_seconds: seconds } };
  };
}

export class FakeFlora {
  readonly requests: RecordedRequest[] = [];
  readonly unrouted: RecordedRequest[] = [];
  readonly runs = new Map<string, FakeRun>();
  readonly idempotencyKeys = new Map<string, string>();
  /** Assets, and the storage host that signed uploads go to (outside /api/v1, no key expected). */
  readonly assets: FakeAssets;
  /** The media host completed runs' outputs can point at (outside /api/v1, no key expected). */
  readonly media: FakeMedia;
  apiKey = FAKE_KEY;
  /** Further keys FLORA accepts (several users of one HTTP-mode server). */
  otherKeys: string[] = [];
  models: FakeModel[] = MODELS;
  workspaces: FakeWorkspace[] = WORKSPACES;
  projects: FakeProject[] = PROJECTS;
  runPlan: RunPlan = { durationMs: 0 };
  techniques: FakeTechnique[] = TECHNIQUES;
  /** Technique start keys ("nested <key>" from the body, "legacy <key>" from the header) -> run_id. */
  readonly techniqueKeys = new Map<string, string>();
  /** A repeated body idempotency_key replays the run (FLORA's docs) instead of 409 (as FLORA measured). */
  techniqueKeyReplay = false;
  /** The workspace of FAKE_KEY: a nested technique run names none, so it bills the key's. */
  keyWorkspaceId = 'ws_studio';
  /** Consulted before every route: return a Handler to inject a fault into this request. */
  chaos: ((req: RecordedRequest) => Handler | undefined) | undefined;
  /**
   * Holds each POST /generate before it is answered, as FLORA's own start latency does: for `ms`,
   * or until `untilInFlight` starts are in flight (then every held one goes on), whichever first.
   */
  startHold: { ms: number; untilInFlight?: number } | undefined;
  /** POST /generate requests received and not yet answered, now and at most so far. */
  startsInFlight = 0;
  peakStartsInFlight = 0;
  /** How many starts were in flight when each POST /generate arrived (itself included), in order. */
  readonly startsInFlightOnArrival: number[] = [];
  private heldStarts: Array<() => void> = [];
  private readonly overrides = new Map<string, Handler>();
  private readonly onceOverrides = new Map<string, Handler[]>();
  private counter = 0;

  private constructor(
    private readonly server: Server,
    readonly origin: string,
  ) {
    this.assets = new FakeAssets(origin);
    this.media = new FakeMedia(origin);
  }

  /** FLORA_BASE_URL for this fake. */
  get baseUrl(): string {
    return `${this.origin}${BASE_PATH}`;
  }

  static async start(): Promise<FakeFlora> {
    let fake: FakeFlora | undefined;
    const server = createServer((req, res) => {
      // The storage host reads its (possibly huge) body as a stream; FLORA's routes buffer theirs.
      if ((req.url ?? '').startsWith('/storage/')) return void fake!.assets.handleStorage(req, res);
      if ((req.url ?? '').startsWith('/media/')) return void fake!.media.handle(req, res);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void fake!.handle(req.method ?? 'GET', req.url ?? '/', req.headers, Buffer.concat(chunks), res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    fake = new FakeFlora(server, `http://127.0.0.1:${port}`);
    return fake;
  }

  /** Serve `key` ("METHOD /path", path below /api/v1; ":id" matches one segment) with `handler` from now on. */
  route(key: string, handler: Handler): void {
    this.overrides.set(key, handler);
  }

  /** Serve only the next request to `key` with `handler`; queued calls apply in order. */
  once(key: string, handler: Handler): void {
    const list = this.onceOverrides.get(key) ?? [];
    list.push(handler);
    this.onceOverrides.set(key, list);
  }

  requestsTo(method: string, path: string): RecordedRequest[] {
    return this.requests.filter(
      (r) => r.method === method && (r.path === path || routeKey(r.method, r.path) === `${method} ${path}`),
    );
  }

  assertAllRouted(): void {
    const list = [
      ...this.unrouted.map((r) => `${r.method} ${r.rawPath}`),
      ...this.media.unrouted.map((r) => `${r.method} ${r.path}`),
    ].join(', ');
    if (list) throw new Error(`fake FLORA received requests no route serves: ${list}`);
  }

  reset(): void {
    this.requests.length = 0;
    this.unrouted.length = 0;
    this.runs.clear();
    this.idempotencyKeys.clear();
    this.overrides.clear();
    this.onceOverrides.clear();
    this.apiKey = FAKE_KEY;
    this.otherKeys = [];
    this.models = MODELS;
    this.workspaces = WORKSPACES;
    this.projects = PROJECTS;
    this.runPlan = { durationMs: 0 };
    this.techniques = TECHNIQUES;
    this.techniqueKeys.clear();
    this.techniqueKeyReplay = false;
    this.keyWorkspaceId = 'ws_studio';
    this.chaos = undefined;
    this.startHold = undefined;
    this.startsInFlight = 0;
    this.peakStartsInFlight = 0;
    this.startsInFlightOnArrival.length = 0;
    for (const release of this.heldStarts.splice(0)) release();
    this.assets.reset();
    this.media.reset();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The run as GET /runs/{id} would show it now. */
  runView(run: FakeRun, now = Date.now()): Record<string, unknown> {
    const elapsed = now - run.created_at;
    const done = elapsed >= run.duration_ms;
    const view: Record<string, unknown> = {
      run_id: run.run_id,
      status: done ? (run.fail ? 'failed' : 'completed') : elapsed < run.duration_ms * 0.1 ? 'pending' : 'running',
      progress: done ? 100 : Math.floor((elapsed / run.duration_ms) * 100),
      created_at: run.created_at,
      poll_url:
        run.technique_id === undefined
          ? `${this.origin}${BASE_PATH}/runs/${run.run_id}`
          : `${this.origin}${BASE_PATH}/techniques/${run.technique_id}/runs/${run.run_id}`,
    };
    if (elapsed >= run.duration_ms * 0.1) view.started_at = run.created_at + Math.floor(run.duration_ms * 0.1);
    if (done) {
      view.completed_at = run.created_at + run.duration_ms;
      view.charged_cost = run.charged_cost;
      if (run.fail) {
        view.error_code = run.fail.code;
        view.error_message = run.fail.message;
      } else if (run.outputs) {
        view.outputs = run.outputs.map((o, i) => ({ output_id: `out_${run.run_id.slice(4)}_${i}`, ...o }));
      } else {
        const out = OUTPUT[run.type];
        view.outputs = [
          {
            output_id: `out_${run.run_id.slice(4)}_0`,
            type: out.type,
            url: run.type === 'text' ? `Generated text for: ${run.prompt}` : `https://media.flora.ai/${run.run_id}/0.${out.ext}`,
          },
        ];
      }
    }
    return view;
  }

  private async handle(
    method: string,
    rawUrl: string,
    headers: IncomingHttpHeaders,
    bytes: Buffer,
    res: ServerResponse,
  ): Promise<void> {
    const rawBody = bytes.toString('utf8');
    const url = new URL(rawUrl, this.origin);
    const rawPath = rawUrl.split('?')[0] ?? '';
    const below = url.pathname.startsWith(`${BASE_PATH}/`) ? url.pathname.slice(BASE_PATH.length) : undefined;
    let body: unknown;
    try {
      body = rawBody === '' ? undefined : JSON.parse(rawBody);
    } catch {
      body = undefined;
    }
    const req: RecordedRequest = {
      method,
      path: below !== undefined ? safeDecode(below) : url.pathname,
      rawPath,
      query: Object.fromEntries(url.searchParams),
      headers,
      rawBody,
      body,
      at: Date.now(),
    };
    const contentType = headers['content-type'] ?? '';
    if (contentType.startsWith('multipart/form-data')) {
      req.form = await new Response(bytes, { headers: { 'content-type': contentType } }).formData().catch(() => undefined);
    }
    this.requests.push(req);
    const requestId = `req_${++this.counter}`;

    const key = below !== undefined ? routeKey(method, below) : undefined;
    const defaultRoute = key !== undefined ? this.defaultRoute(key) : undefined;
    const once = key !== undefined ? this.onceOverrides.get(key)?.shift() : undefined;
    const handler =
      (defaultRoute ? this.chaos?.(req) : undefined) ?? once ?? (key !== undefined ? this.overrides.get(key) : undefined);
    if (!handler && !defaultRoute) {
      this.unrouted.push(req);
      send(res, floraError(404, 'not_found', `No route for ${method} ${url.pathname}`), requestId);
      return;
    }
    const defaultReply = () => this.authenticate(req) ?? defaultRoute!(req);
    const isStart = key === 'POST /generate';
    if (isStart) await this.admitStart();
    try {
      const reply = handler ? await handler(req, res, { fake: this, defaultReply }) : defaultReply();
      if (reply) send(res, reply, requestId);
    } finally {
      if (isStart) this.startsInFlight--;
    }
  }

  /** Counts a start in flight and holds it as `startHold` says. */
  private async admitStart(): Promise<void> {
    this.startsInFlight++;
    this.peakStartsInFlight = Math.max(this.peakStartsInFlight, this.startsInFlight);
    this.startsInFlightOnArrival.push(this.startsInFlight);
    const hold = this.startHold;
    if (!hold) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(release, hold.ms);
      function release() {
        clearTimeout(timer);
        resolve();
      }
      this.heldStarts.push(release);
      if (hold.untilInFlight !== undefined && this.startsInFlight >= hold.untilInFlight) {
        for (const r of this.heldStarts.splice(0)) r();
      }
    });
  }

  private authenticate(req: RecordedRequest): Reply | undefined {
    const auth = req.headers.authorization;
    if (auth === undefined) return floraError(401, 'unauthorized', 'Missing Authorization header.');
    const valid = [this.apiKey, ...this.otherKeys].some((k) => auth === `Bearer ${k}`);
    if (!valid) return floraError(401, 'invalid_api_key', 'Invalid API key.');
    return undefined;
  }

  private defaultRoute(key: string): ((req: RecordedRequest) => Reply) | undefined {
    switch (key) {
      case 'POST /generate':
      case 'POST /runs/generation':
        return (req) => this.generate(req);
      case 'GET /runs/:id':
        return (req) => {
          const run = this.runs.get(req.path.slice('/runs/'.length));
          // Documented for generation and action runs: a technique run is not served here.
          return run && run.technique_id === undefined
            ? { status: 200, body: this.runView(run) }
            : floraError(404, 'not_found', 'Run not found.');
        };
      case 'GET /models':
        return (req) => {
          const type = req.query.type;
          if (type !== undefined && !TYPES.has(type)) {
            return floraError(400, 'input_validation_error', 'Invalid query.', [
              { field: 'type', message: 'must be image, video, audio or text' },
            ]);
          }
          return { status: 200, body: { models: this.models.filter((m) => type === undefined || m.type === type) } };
        };
      case 'GET /generations':
        return (req) => this.listGenerations(req);
      case 'GET /workspaces':
        return () => ({ status: 200, body: { workspaces: this.workspaces } });
      case 'GET /projects':
        return (req) => this.listProjects(req);
      case 'POST /assets':
        return (req) => this.assets.create(req);
      case 'GET /assets/:id':
        return (req) => this.assets.get(req.path.split('/')[2] ?? '');
      case 'POST /assets/:id/complete':
        return (req) => this.assets.complete(req.path.split('/')[2] ?? '');
      default:
        return techniqueRoute(this, key);
    }
  }

  private generate(req: RecordedRequest): Reply {
    if (req.rawBody !== '' && req.body === undefined) return floraError(400, 'invalid_json', 'Request body is not valid JSON.');
    const b = (req.body ?? {}) as Record<string, unknown>;
    const fields: Array<{ field: string; message: string }> = [];
    for (const k of Object.keys(b)) if (!BODY_FIELDS.has(k)) fields.push({ field: k, message: 'Unrecognized field.' });
    if (typeof b.type !== 'string' || !TYPES.has(b.type))
      fields.push({ field: 'type', message: 'type must be one of image, video, audio, text.' });
    if (typeof b.prompt !== 'string' || b.prompt.length < 1) fields.push({ field: 'prompt', message: 'prompt is required.' });
    if (typeof b.workspace_id !== 'string' || !/^ws_\S+$/.test(b.workspace_id))
      fields.push({ field: 'workspace_id', message: 'workspace_id must start with ws_.' });
    if (typeof b.project_id !== 'string' || !/^prj_\S+$/.test(b.project_id))
      fields.push({ field: 'project_id', message: 'project_id must start with prj_.' });
    if (b.params !== undefined && (typeof b.params !== 'object' || b.params === null || Array.isArray(b.params)))
      fields.push({ field: 'params', message: 'params must be an object.' });
    if (b.callback_url !== undefined && (typeof b.callback_url !== 'string' || !b.callback_url.startsWith('https://')))
      fields.push({ field: 'callback_url', message: 'callback_url must be an https URL.' });
    if (fields.length > 0) return floraError(400, 'input_validation_error', 'Invalid request body.', fields);

    const type = b.type as FakeModel['type'];
    const model =
      b.model === undefined ? this.models.find((m) => m.type === type) : this.models.find((m) => m.model_id === b.model);
    if (!model) {
      const ids = this.models.map((m) => m.model_id).join(', ');
      return floraError(400, 'input_validation_error', `Unknown model "${String(b.model)}". Accessible models: ${ids}.`, [
        { field: 'model', message: 'Unknown model.' },
      ]);
    }

    const key = req.headers['idempotency-key'];
    const idem = typeof key === 'string' ? key : undefined;
    if (idem !== undefined && this.idempotencyKeys.has(idem)) {
      return floraError(409, 'idempotency_duplicate', 'Duplicate idempotency key.');
    }
    const run: FakeRun = {
      run_id: `run_${(++this.counter).toString(36)}${Math.random().toString(36).slice(2, 8)}`,
      workspace_id: b.workspace_id as string,
      project_id: b.project_id as string,
      type,
      model_id: model.model_id,
      prompt: b.prompt as string,
      idempotency_key: idem,
      created_at: Date.now(),
      duration_ms: this.runPlan.durationMs,
      fail: this.runPlan.fail,
      charged_cost: model.estimated_credits / 1000,
      ...(this.runPlan.outputs ? { outputs: this.runPlan.outputs } : {}),
    };
    this.runs.set(run.run_id, run);
    if (idem !== undefined) this.idempotencyKeys.set(idem, run.run_id);
    return {
      status: 201,
      body: {
        run_id: run.run_id,
        type: 'generation',
        estimated_seconds: Math.ceil(run.duration_ms / 1000),
        charged_cost: run.charged_cost,
        poll_url: `${this.origin}${BASE_PATH}/runs/${run.run_id}`,
        project_id: run.project_id,
        model: { model_id: run.model_id },
        technique: null,
        action: null,
      },
    };
  }

  private listProjects(req: RecordedRequest): Reply {
    const { workspace_id, query } = req.query;
    if (workspace_id === undefined || !/^ws_\S+$/.test(workspace_id)) {
      return floraError(400, 'input_validation_error', 'Invalid query.', [
        { field: 'workspace_id', message: 'workspace_id must start with ws_.' },
      ]);
    }
    const limit = Number(req.query.limit ?? 20);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      return floraError(400, 'input_validation_error', 'Invalid query.', [{ field: 'limit', message: 'limit must be 1-100.' }]);
    }
    const offset = req.query.cursor ? Number(Buffer.from(req.query.cursor, 'base64url').toString()) : 0;
    const all = this.projects.filter(
      (p) => p.workspace_id === workspace_id && (query === undefined || p.name.toLowerCase().includes(query.toLowerCase())),
    );
    const next = offset + limit < all.length ? Buffer.from(String(offset + limit)).toString('base64url') : null;
    return {
      status: 200,
      body: { projects: all.slice(offset, offset + limit), meta: { next_cursor: next, total_estimate: all.length } },
    };
  }

  private listGenerations(req: RecordedRequest): Reply {
    const { workspace_id, project_id, status } = req.query;
    const limit = Number(req.query.limit ?? 20);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      return floraError(400, 'input_validation_error', 'Invalid query.', [{ field: 'limit', message: 'limit must be 1-100.' }]);
    }
    const offset = req.query.cursor ? Number(Buffer.from(req.query.cursor, 'base64url').toString()) : 0;
    const all = [...this.runs.values()]
      .filter(
        (r) =>
          r.technique_id === undefined &&
          (workspace_id === undefined || r.workspace_id === workspace_id) &&
          (project_id === undefined || r.project_id === project_id),
      )
      .map((r) => ({ run: r, view: this.runView(r) }))
      .filter(({ view }) => status === undefined || view.status === status)
      .sort((a, b) => b.run.created_at - a.run.created_at);
    const page = all.slice(offset, offset + limit);
    const next = offset + limit < all.length ? Buffer.from(String(offset + limit)).toString('base64url') : null;
    return {
      status: 200,
      body: {
        generations: page.map(({ run, view }) => ({
          ...view,
          generation_id: run.run_id,
          project_id: run.project_id,
          workspace_id: run.workspace_id,
          model: { model_id: run.model_id },
        })),
        meta: { next_cursor: next, total_estimate: all.length },
      },
    };
  }
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

function routeKey(method: string, path: string): string {
  const parts = path.split('/');
  if (parts[1] === 'runs' && parts.length === 3 && parts[2] !== 'generation' && parts[2] !== 'technique') {
    return `${method} /runs/:id`;
  }
  if (parts[1] === 'assets' && parts.length === 3) return `${method} /assets/:id`;
  if (parts[1] === 'assets' && parts.length === 4 && parts[3] === 'complete') return `${method} /assets/:id/complete`;
  if (parts[1] === 'techniques' && parts.length === 3) return `${method} /techniques/:id`;
  if (parts[1] === 'techniques' && parts[3] === 'runs' && parts.length === 4) return `${method} /techniques/:id/runs`;
  if (parts[1] === 'techniques' && parts[3] === 'runs' && parts.length === 5) return `${method} /techniques/:id/runs/:id`;
  return `${method} ${path}`;
}

function send(res: ServerResponse, reply: Reply, requestId: string): void {
  if (res.destroyed || res.headersSent) return;
  const text = typeof reply.body === 'string' ? reply.body : reply.body === undefined ? '' : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'content-type': 'application/json',
    'request-id': requestId,
    'content-length': Buffer.byteLength(text),
    ...reply.headers,
  });
  res.end(text);
}

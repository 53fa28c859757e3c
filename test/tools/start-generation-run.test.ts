/**
 * start_generation_run through the real SDK client: what FLORA receives (POST /api/v1/generate,
 * body, Idempotency-Key; with a model, first GET /api/v1/models for the pre-flight check) and what
 * the agent gets back, on success, on FLORA's errors, on retries, and when the arguments are
 * refused before anything is sent.
 */
import { describe, expect, it } from 'vitest';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { FAKE_KEY, type FakeFlora, floraError, MODELS, type RecordedRequest } from '../helpers/fake-flora.js';
import { VALID_START, failure, success, useConnections } from '../helpers/harness.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let fake: FakeFlora;

const { open, current } = useConnections((f) => (fake = f));

function start(args: Record<string, unknown>): Promise<CallToolResult> {
  return current().call('start_generation_run', args);
}

function onlyRequest(): RecordedRequest {
  expect(fake.requests).toHaveLength(1);
  return fake.requests[0]!;
}

/** The pre-flight catalog lookup a start with a model makes first: GET /api/v1/models, no query. */
function expectCatalogRequest(req: RecordedRequest): void {
  expect(req.method).toBe('GET');
  expect(req.rawPath).toBe('/api/v1/models');
  expect(req.query).toEqual({});
  expect(req.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
  expect(req.headers).not.toHaveProperty('idempotency-key');
  expect(req.rawBody).toBe('');
}

/** A start with a model: exactly the catalog lookup, then one POST /generate, which is returned. */
function catalogThenGenerate(): RecordedRequest {
  expect(fake.requests.map((r) => `${r.method} ${r.rawPath}`)).toEqual(['GET /api/v1/models', 'POST /api/v1/generate']);
  expectCatalogRequest(fake.requests[0]!);
  expect(fake.requestsTo('POST', '/generate')).toHaveLength(1);
  return fake.requests[1]!;
}

function expectGenerateRequest(req: RecordedRequest): void {
  expect(req.method).toBe('POST');
  expect(req.rawPath).toBe('/api/v1/generate');
  expect(req.path).toBe('/generate');
  expect(req.query).toEqual({});
  expect(req.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
  expect(req.headers['content-type']).toBe('application/json');
  expect(req.headers.accept).toBe('application/json');
}

describe('start_generation_run: what FLORA receives and what the agent gets', () => {
  it('POSTs /api/v1/generate (not the deprecated /runs/generation) with exactly the given body fields', async () => {
    // The model accepts a dict param, so the nested value passes the pre-flight check untouched.
    fake.models = MODELS.map((m) =>
      m.model_id === 't2i-flux-2-pro' ? { ...m, params: [...m.params, { name: 'nested', type: 'dict', required: false }] } : m,
    );
    await open();
    const args = {
      ...VALID_START,
      model: 't2i-flux-2-pro',
      params: { aspect_ratio: '16:9', seed: 7, nested: { style: ['a', 'b'] } },
      callback_url: 'https://hooks.example.com/flora?job=42',
    };
    const out = success(await start(args));

    const req = catalogThenGenerate();
    expectGenerateRequest(req);
    expect(fake.requestsTo('POST', '/runs/generation')).toHaveLength(0);
    expect(req.body).toStrictEqual(args);
    expect(req.body).not.toHaveProperty('idempotency_key');
    expect(req.headers['idempotency-key']).toMatch(UUID);

    const [run] = [...fake.runs.values()];
    expect(fake.runs.size).toBe(1);
    expect(out).toEqual({
      summary: `Started run ${run!.run_id} (quoted US$0.040; FLORA settles the final charge later). Next: poll_run with this run_id and wait_seconds up to 50.`,
      run_id: run!.run_id,
      type: 'generation',
      estimated_seconds: 0,
      charged_cost: 0.04,
      poll_url: `${fake.baseUrl}/runs/${run!.run_id}`,
      project_id: 'prj_mugs',
      model: { model_id: 't2i-flux-2-pro' },
      technique: null,
      action: null,
      // FLORA's catalog: 40 credits at US$0.001 each.
      estimated_usd: 0.04,
    });
    expect(out.run_id).toMatch(/^run_/);
  });

  it('sends only the four required fields when nothing optional is given', async () => {
    await open();
    success(await start({ ...VALID_START }));
    const req = onlyRequest();
    expectGenerateRequest(req);
    expect(req.body).toStrictEqual({ ...VALID_START });
    expect(Object.keys(req.body as object).sort()).toEqual(['project_id', 'prompt', 'type', 'workspace_id']);
  });

  it('uses a fresh UUID Idempotency-Key per call when none is given: two calls start two runs', async () => {
    await open();
    const a = success(await start({ ...VALID_START }));
    const b = success(await start({ ...VALID_START }));

    expect(fake.requests).toHaveLength(2);
    const [k1, k2] = fake.requests.map((r) => r.headers['idempotency-key']);
    expect(k1).toMatch(UUID);
    expect(k2).toMatch(UUID);
    expect(k1).not.toBe(k2);
    for (const r of fake.requests) expect(r.body).not.toHaveProperty('idempotency_key');

    expect(a.run_id).not.toBe(b.run_id);
    expect(fake.runs.size).toBe(2);
    expect([...fake.runs.keys()].sort()).toEqual([a.run_id, b.run_id].sort());
  });

  it("sends the caller's idempotency_key as the Idempotency-Key header, not in the body", async () => {
    await open();
    const out = success(await start({ ...VALID_START, idempotency_key: 'order-42:hero-shot' }));

    const req = onlyRequest();
    expect(req.headers['idempotency-key']).toBe('order-42:hero-shot');
    expect(req.body).toStrictEqual({ ...VALID_START });
    expect(fake.runs.get(out.run_id as string)?.idempotency_key).toBe('order-42:hero-shot');
  });

  it('passes through fields FLORA adds later, nested unknown keys included', async () => {
    fake.route('POST /generate', (_req, _res, ctx) => {
      const reply = ctx.defaultReply();
      const body = reply.body as Record<string, unknown>;
      return {
        ...reply,
        body: {
          ...body,
          queue_position: 3,
          billing: { tier: 'pro', breakdown: { base: 0.03, surcharge: [0.01] } },
          model: { ...(body.model as object), version: '2.1', routing: { region: 'eu-west' } },
        },
      };
    });
    await open();
    const out = success(await start({ ...VALID_START }));

    const run = [...fake.runs.values()][0]!;
    expect(out).toEqual({
      summary: expect.stringContaining(`Started run ${run.run_id}`),
      run_id: run.run_id,
      type: 'generation',
      estimated_seconds: 0,
      charged_cost: 0.04,
      poll_url: `${fake.baseUrl}/runs/${run.run_id}`,
      project_id: 'prj_mugs',
      model: { model_id: 't2i-flux-2-pro', version: '2.1', routing: { region: 'eu-west' } },
      technique: null,
      action: null,
      queue_position: 3,
      billing: { tier: 'pro', breakdown: { base: 0.03, surcharge: [0.01] } },
      // No model named: the workspace default's cost is unknown.
      estimated_usd: null,
    });
    expectGenerateRequest(onlyRequest());
  });
});

describe("start_generation_run: FLORA's errors", () => {
  it("returns FLORA's 400 input_validation_error with its fields, and does not retry it", async () => {
    // The catalog knew the model, but FLORA has since withdrawn it: FLORA's own 400 is the answer.
    fake.route('POST /generate', () =>
      floraError(400, 'input_validation_error', 'Unknown model "t2i-flux-2-pro". Accessible models: t2v-kling-2.', [
        { field: 'model', message: 'Unknown model.' },
      ]),
    );
    await open();
    const error = failure(await start({ ...VALID_START, model: 't2i-flux-2-pro' }));

    expect(error).toMatchObject({
      code: 'input_validation_error',
      status: 400,
      retryable: false,
      fields: [{ field: 'model', message: 'Unknown model.' }],
    });
    expect(error.message).toContain('Unknown model "t2i-flux-2-pro"');
    expect(error.message).toContain('Fix the request (see fields)');
    expect(error.request_id).toMatch(/^req_\d+$/);

    const req = catalogThenGenerate();
    expectGenerateRequest(req);
    expect(req.body).toStrictEqual({ ...VALID_START, model: 't2i-flux-2-pro' });
    expect(fake.runs.size).toBe(0);
  });

  it('refuses an unknown model itself, naming valid model ids, and POSTs nothing', async () => {
    await open();
    const error = failure(await start({ ...VALID_START, model: 'no-such-model' }));

    expect(error.code).toBe('input_validation_error');
    expect(error.retryable).toBe(false);
    // Refused by this server, not by FLORA: no HTTP status, no FLORA request id.
    expect(error).not.toHaveProperty('status');
    expect(error).not.toHaveProperty('request_id');
    const entry = error.fields?.find((f) => f.field === 'model');
    expect(entry, JSON.stringify(error.fields)).toBeDefined();
    expect(entry!.message).toContain('Unknown model "no-such-model"');
    expect(entry!.message).toContain('t2i-flux-2-pro');
    expect(error.message).toContain('Unknown model "no-such-model"');
    // The valid image model is named; models of other types are not offered for an image start.
    expect(error.message).toContain('t2i-flux-2-pro');
    expect(error.message).not.toContain('t2v-kling-2');
    expect(error.message).toContain('list_models');
    expect(error.message).toContain('nothing was sent to FLORA');

    expect(fake.requestsTo('POST', '/generate')).toHaveLength(0);
    expect(fake.requestsTo('POST', '/runs/generation')).toHaveLength(0);
    expectCatalogRequest(onlyRequest());
    expect(fake.runs.size).toBe(0);
  });

  it('returns several fields from a 400 with nested field paths', async () => {
    fake.route('POST /generate', () =>
      floraError(400, 'input_validation_error', 'Invalid request body', [
        { field: 'params.aspect_ratio', message: 'must be one of 1:1, 16:9' },
        { field: 'params.seed', message: 'must be an integer' },
      ]),
    );
    await open();
    const error = failure(await start({ ...VALID_START, params: { aspect_ratio: '4:3', seed: 1.5 } }));
    expect(error.code).toBe('input_validation_error');
    expect(error.fields).toEqual([
      { field: 'params.aspect_ratio', message: 'must be one of 1:1, 16:9' },
      { field: 'params.seed', message: 'must be an integer' },
    ]);
    expect(onlyRequest().body).toStrictEqual({ ...VALID_START, params: { aspect_ratio: '4:3', seed: 1.5 } });
  });

  it('returns 402 insufficient_credits as not retryable, sent once, with advice to top up', async () => {
    fake.route('POST /generate', () => floraError(402, 'insufficient_credits', 'Workspace ws_studio has no credits left'));
    await open();
    const error = failure(await start({ ...VALID_START }));

    expect(error).toMatchObject({ code: 'insufficient_credits', status: 402, retryable: false });
    expect(error.message).toContain('Workspace ws_studio has no credits left.');
    expect(error.message).toContain('top up');
    expect(error).not.toHaveProperty('fields');
    expectGenerateRequest(onlyRequest());
  });

  it('refuses a second start with the same idempotency_key as idempotency_duplicate; one run exists', async () => {
    await open();
    const first = success(await start({ ...VALID_START, idempotency_key: 'retry-me-1' }));
    const error = failure(await start({ ...VALID_START, idempotency_key: 'retry-me-1' }));

    expect(error).toMatchObject({ code: 'idempotency_duplicate', status: 409, retryable: false });
    expect(error.message).toContain('Do not reuse this key');
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests.map((r) => r.headers['idempotency-key'])).toEqual(['retry-me-1', 'retry-me-1']);
    expect(fake.runs.size).toBe(1);
    expect([...fake.runs.keys()]).toEqual([first.run_id]);
  });

  it('sits out a 429 with Retry-After: 1 and retries with the same Idempotency-Key', async () => {
    fake.once('POST /generate', () => ({
      ...floraError(429, 'rate_limited', 'Too many requests'),
      headers: { 'retry-after': '1' },
    }));
    await open();
    const out = success(await start({ ...VALID_START }));

    expect(fake.requests).toHaveLength(2);
    const [r1, r2] = fake.requests;
    expectGenerateRequest(r1!);
    expectGenerateRequest(r2!);
    expect(r1!.headers['idempotency-key']).toMatch(UUID);
    expect(r2!.headers['idempotency-key']).toBe(r1!.headers['idempotency-key']);
    expect(r2!.body).toStrictEqual(r1!.body);
    expect(fake.runs.size).toBe(1);
    expect(fake.runs.has(out.run_id as string)).toBe(true);
  });

  it('on a timeout hands the agent the idempotency_key that was sent, and a retry with it cannot bill twice', async () => {
    // FLORA accepts the start (the run exists) but the answer never arrives.
    fake.once('POST /generate', (_req, _res, ctx) => {
      ctx.defaultReply();
      return new Promise<void>(() => {});
    });
    await open({ env: { FLORA_TIMEOUT_MS: '200' } });
    const error = failure(await start({ ...VALID_START }));

    expect(error.code).toBe('timeout');
    expect(error.retryable).toBe(true);
    const sentKey = fake.requests[0]!.headers['idempotency-key'];
    expect(sentKey).toMatch(UUID);
    expect(error.idempotency_key).toBe(sentKey);
    expect(error.message).toContain(`idempotency_key "${String(sentKey)}"`);
    expect(fake.runs.size).toBe(1);

    const again = failure(await start({ ...VALID_START, idempotency_key: error.idempotency_key }));
    expect(again.code).toBe('idempotency_duplicate');
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests[1]!.headers['idempotency-key']).toBe(sentKey);
    expect(fake.runs.size).toBe(1);
  });

  it('when a retried attempt meets its own earlier start, recovers that run instead of starting another', async () => {
    // The first attempt lands (run created) but the connection drops before the answer.
    fake.once('POST /generate', (_req, res, ctx) => {
      ctx.defaultReply();
      res.socket?.resetAndDestroy();
    });
    await open();
    const out = success(await start({ ...VALID_START }));

    expect(fake.requestsTo('POST', '/generate')).toHaveLength(2);
    const [first, second] = fake.requestsTo('POST', '/generate');
    expect(second!.headers['idempotency-key']).toBe(first!.headers['idempotency-key']);
    expect(fake.runs.size).toBe(1);
    const [run] = [...fake.runs.values()];
    expect(out).toMatchObject({ run_id: run!.run_id, recovered: true });
    expect(out.summary).toContain('found in the project');
  });
});

describe('start_generation_run: bad arguments are refused before anything is sent', () => {
  const cases: Array<[string, Record<string, unknown>, string, string]> = [
    ['unknown type "t2i"', { ...VALID_START, type: 't2i' }, 'type', 'expected one of'],
    ['empty prompt', { ...VALID_START, prompt: '' }, 'prompt', 'must contain text'],
    ['whitespace-only prompt', { ...VALID_START, prompt: '  \n\t ' }, 'prompt', 'not only whitespace'],
    ['project_id without prj_', { ...VALID_START, project_id: 'proj_1' }, 'project_id', 'prj_'],
    ['workspace_id without ws_', { ...VALID_START, workspace_id: 'studio' }, 'workspace_id', 'ws_'],
    ['callback_url with http://', { ...VALID_START, callback_url: 'http://hooks.example.com/flora' }, 'callback_url', 'https://'],
    ['callback_url that is not a URL', { ...VALID_START, callback_url: 'hooks' }, 'callback_url', 'https://'],
    ['params as a string', { ...VALID_START, params: '16:9' }, 'params', 'expected record'],
    ['params as an array', { ...VALID_START, params: [{ aspect_ratio: '16:9' }] }, 'params', 'expected record'],
    ['idempotency_key with a space', { ...VALID_START, idempotency_key: 'my key' }, 'idempotency_key', 'without spaces'],
    ['empty idempotency_key', { ...VALID_START, idempotency_key: '' }, 'idempotency_key', 'printable ASCII'],
    ['model with a space (a display name)', { ...VALID_START, model: 'FLUX.2 Pro' }, 'model', 'no spaces'],
    ['missing prompt', { project_id: 'prj_mugs', workspace_id: 'ws_studio', type: 'image' }, 'prompt', 'expected string'],
    [
      'aspect_ratio at top level',
      { ...VALID_START, aspect_ratio: '16:9' },
      'aspect_ratio',
      'model-specific settings go inside params',
    ],
  ];

  it.each(cases)('%s', async (_label, args, field, hint) => {
    await open();
    const error = failure(await start(args));

    expect(error.code).toBe('invalid_arguments');
    expect(error.retryable).toBe(false);
    const entry = error.fields?.find((f) => f.field === field);
    expect(entry, JSON.stringify(error.fields)).toBeDefined();
    expect(entry!.message).toContain(hint);
    expect(error.message).toContain(field);
    expect(error.message).toContain('nothing was sent to FLORA');
    expect(fake.requests).toHaveLength(0);
    expect(fake.runs.size).toBe(0);
  });

  it('names every missing required field when called with no arguments', async () => {
    await open();
    const error = failure(await start({}));
    expect(error.code).toBe('invalid_arguments');
    expect(error.fields?.map((f) => f.field).sort()).toEqual(['project_id', 'prompt', 'type', 'workspace_id']);
    expect(fake.requests).toHaveLength(0);
  });

  it('names each unknown top-level key in its own fields entry', async () => {
    await open();
    const error = failure(await start({ ...VALID_START, aspect_ratio: '16:9', seed: 7 }));
    expect(error.code).toBe('invalid_arguments');
    const fields = error.fields?.map((f) => f.field) ?? [];
    expect(fields).toContain('aspect_ratio');
    expect(fields).toContain('seed');
    for (const f of error.fields ?? []) expect(f.message).toContain('params');
    expect(fake.requests).toHaveLength(0);
  });

  it('points an unknown top-level setting to params in the message', async () => {
    await open();
    const error = failure(await start({ ...VALID_START, aspect_ratio: '16:9' }));
    expect(error.message).toMatch(/aspect_ratio: .*params/);
    expect(fake.requests).toHaveLength(0);
  });
});

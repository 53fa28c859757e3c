/**
 * FloraClient against a real HTTP fake of FLORA: every test checks both what FLORA received
 * (method, path, query, headers, body, how many times) and what the caller got back.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ErrorPayload } from '../src/errors.js';
import type { FloraClient, FloraClientOptions } from '../src/flora/client.js';
import { FAKE_KEY, type FakeFlora, faults, floraError, type Handler, type RecordedRequest } from './helpers/fake-flora.js';
import { BODY, fastClient, rejection } from './helpers/flora-client.js';
import { useFakeFlora } from './helpers/harness.js';

let fake: FakeFlora;

useFakeFlora((f) => (fake = f));

function makeClient(overrides: Partial<FloraClientOptions> = {}): FloraClient {
  return fastClient(fake, overrides);
}

/**
 * A client whose fetch is the real one, tapped to record each response's request-id header, so
 * a test can check the error carries the id FLORA sent.
 */
function tappedClient(overrides: Partial<FloraClientOptions> = {}) {
  const requestIds: Array<string | null> = [];
  const client = makeClient({
    ...overrides,
    fetch: async (input, init) => {
      const res = await globalThis.fetch(input, init);
      requestIds.push(res.headers.get('request-id'));
      return res;
    },
  });
  return { client, requestIds };
}

/** The FloraError a call fails with (sync throw or rejection); fails the test if it succeeds. */
const failure = rejection;

function newKey(): string {
  return `idem-${randomUUID()}`;
}

/** FLORA's 429 with these (Retry-After) headers. */
function tooManyRequests(headers: Record<string, string>): Handler {
  return () => ({ ...floraError(429, 'rate_limited', 'Too many requests.'), headers });
}

function keysOf(reqs: RecordedRequest[]): unknown[] {
  return reqs.map((r) => r.headers['idempotency-key']);
}

function expectGenerateRequest(req: RecordedRequest | undefined, key: string, body: unknown = BODY): void {
  expect(req).toBeDefined();
  expect(req!.method).toBe('POST');
  expect(req!.rawPath).toBe('/api/v1/generate');
  expect(req!.headers['idempotency-key']).toBe(key);
  expect(req!.body).toEqual(body);
}

function runView(runId: string): Record<string, unknown> {
  return { run_id: runId, status: 'running', progress: 40, created_at: 1_700_000_000 };
}

async function startOtherHost(): Promise<{ server: Server; origin: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url} auth=${req.headers.authorization ?? ''}`);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ models: [], run_id: 'run_stolen' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, origin: `http://127.0.0.1:${port}`, hits };
}

describe('request headers', () => {
  it('POST /generate carries auth, JSON headers, a named User-Agent and the given Idempotency-Key', async () => {
    const key = newKey();
    const started = await makeClient().generate(BODY, key);

    expect(fake.requests).toHaveLength(1);
    const req = fake.requests[0]!;
    expectGenerateRequest(req, key);
    expect(req.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
    expect(req.headers.accept).toBe('application/json');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['user-agent']).toMatch(/^flora-generation-mcp\/\d+\.\d+\.\d+/);

    expect(fake.runs.size).toBe(1);
    const run = [...fake.runs.values()][0]!;
    expect(run.idempotency_key).toBe(key);
    expect(started).toMatchObject({
      run_id: run.run_id,
      type: 'generation',
      charged_cost: 0.04,
      project_id: 'prj_poster',
      model: { model_id: 't2i-flux-2-pro' },
    });
  });

  it('GETs carry auth and Accept but no Content-Type and no Idempotency-Key', async () => {
    const client = makeClient();
    const models = await client.listModels(undefined);
    const started = await client.generate(BODY, newKey());
    const run = await client.getRun(started.run_id);

    const gets = fake.requests.filter((r) => r.method === 'GET');
    expect(gets.map((r) => r.rawPath)).toEqual(['/api/v1/models', `/api/v1/runs/${started.run_id}`]);
    for (const req of gets) {
      expect(req.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
      expect(req.headers.accept).toBe('application/json');
      expect(req.headers['user-agent']).toMatch(/^flora-generation-mcp\//);
      expect(req.headers['content-type']).toBeUndefined();
      expect(req.headers['idempotency-key']).toBeUndefined();
      expect(req.rawBody).toBe('');
    }
    expect(models.models.map((m) => m.model_id)).toEqual(fake.models.map((m) => m.model_id));
    expect(run).toMatchObject({ run_id: started.run_id, status: 'completed', progress: 100 });
  });
});

describe('URL joining', () => {
  it.each([
    ['without a trailing slash', ''],
    ['with a trailing slash', '/'],
  ])('a base %s keeps /api/v1 in front of /generate', async (_label, suffix) => {
    const key = newKey();
    const started = await makeClient({ baseUrl: new URL(`${fake.baseUrl}${suffix}`) }).generate(BODY, key);

    expect(fake.requests).toHaveLength(1);
    expectGenerateRequest(fake.requests[0], key);
    expect(fake.requests[0]!.query).toEqual({});
    expect(started.run_id).toBe([...fake.runs.keys()][0]);
  });

  it('GET /models sends type=video as a query parameter and returns only video models', async () => {
    const client = makeClient();
    const video = await client.listModels('video');
    const all = await client.listModels(undefined);

    expect(fake.requests.map((r) => [r.method, r.rawPath, r.query])).toEqual([
      ['GET', '/api/v1/models', { type: 'video' }],
      ['GET', '/api/v1/models', {}],
    ]);
    expect(video.models.map((m) => m.model_id)).toEqual(fake.models.filter((m) => m.type === 'video').map((m) => m.model_id));
    expect(video.models.map((m) => m.model_id)).toContain('t2v-kling-2');
    expect(video.models.every((m) => m.type === 'video')).toBe(true);
    expect(all.models).toHaveLength(fake.models.length);
  });

  it('a run ID is percent-encoded into one path segment', async () => {
    const runId = 'run_a+b:c@d=é';
    fake.route('GET /runs/:id', (req) => ({ status: 200, body: runView(req.path.slice('/runs/'.length)) }));

    const run = await makeClient().getRun(runId);

    expect(fake.requests).toHaveLength(1);
    const req = fake.requests[0]!;
    expect(req.method).toBe('GET');
    expect(req.rawPath).toBe('/api/v1/runs/run_a%2Bb%3Ac%40d%3D%C3%A9');
    expect(req.path).toBe(`/runs/${runId}`);
    expect(req.query).toEqual({});
    expect(run).toMatchObject({ run_id: runId, status: 'running', progress: 40 });
  });
});

interface StatusCase {
  name: string;
  status: number;
  code: string;
  /** How the failure is provoked: a route override on POST /generate, or FLORA's own checks. */
  provoke: 'override' | 'bad-body' | 'wrong-key' | 'unknown-run';
  floraMessage: string;
  fields?: Array<{ field: string; message: string }>;
  advice: RegExp[];
  retryable: boolean;
  attempts: number;
}

const STATUS_CASES: StatusCase[] = [
  {
    name: '400 input_validation_error',
    status: 400,
    code: 'input_validation_error',
    provoke: 'bad-body',
    floraMessage: 'Invalid request body.',
    fields: [{ field: 'workspace_id', message: 'workspace_id must start with ws_.' }],
    advice: [/Fix the request \(see fields\)/, /cost nothing/],
    retryable: false,
    attempts: 1,
  },
  {
    name: '400 invalid_json',
    status: 400,
    code: 'invalid_json',
    provoke: 'override',
    floraMessage: 'Request body is not valid JSON.',
    advice: [/Fix the request/],
    retryable: false,
    attempts: 1,
  },
  {
    name: '401 unauthorized',
    status: 401,
    code: 'unauthorized',
    provoke: 'override',
    floraMessage: 'Missing Authorization header.',
    advice: [/Check FLORA_API_KEY/, /"env" block/],
    retryable: false,
    attempts: 1,
  },
  {
    name: '401 invalid_api_key',
    status: 401,
    code: 'invalid_api_key',
    provoke: 'wrong-key',
    floraMessage: 'Invalid API key.',
    advice: [/Check FLORA_API_KEY/, /Retrying will not help/],
    retryable: false,
    attempts: 1,
  },
  {
    name: '402 insufficient_credits',
    status: 402,
    code: 'insufficient_credits',
    provoke: 'override',
    floraMessage: 'Insufficient credits.',
    advice: [/Stop/, /out of credits/, /Do not retry/],
    retryable: false,
    attempts: 1,
  },
  {
    name: '403 forbidden',
    status: 403,
    code: 'forbidden',
    provoke: 'override',
    floraMessage: 'Read-only role.',
    advice: [/not allowed/, /Retrying will not help/],
    retryable: false,
    attempts: 1,
  },
  {
    name: '404 not_found',
    status: 404,
    code: 'not_found',
    provoke: 'unknown-run',
    floraMessage: 'Run not found.',
    advice: [/Check the ID/],
    retryable: false,
    attempts: 1,
  },
  {
    name: '429 rate_limited (no Retry-After)',
    status: 429,
    code: 'rate_limited',
    provoke: 'override',
    floraMessage: 'Too many requests.',
    advice: [/Wait 5 s before calling again/],
    retryable: true,
    attempts: 3,
  },
  {
    name: '500 unknown_error',
    status: 500,
    code: 'unknown_error',
    provoke: 'override',
    floraMessage: 'Something went wrong.',
    advice: [/unclassified server error/, /gave up after 3 attempts/],
    retryable: true,
    attempts: 3,
  },
  {
    name: '418 teapot_error (a code we do not know)',
    status: 418,
    code: 'teapot_error',
    provoke: 'override',
    floraMessage: "I'm a teapot.",
    advice: [/See FLORA's message/],
    retryable: false,
    attempts: 1,
  },
];

describe('FLORA statuses map to errors with FLORA code verbatim', () => {
  it.each(STATUS_CASES)('$name', async (c) => {
    const key = newKey();
    const { client, requestIds } = tappedClient(c.provoke === 'wrong-key' ? { apiKey: 'sk_live_revoked_0000' } : {});
    if (c.provoke === 'override') {
      fake.route('POST /generate', () => floraError(c.status, c.code, c.floraMessage));
    }

    const err =
      c.provoke === 'unknown-run'
        ? await failure(() => client.getRun('run_doesnotexist'))
        : await failure(() => client.generate(c.provoke === 'bad-body' ? { ...BODY, workspace_id: 'studio' } : BODY, key));

    // What FLORA received: exactly `attempts` requests, retries reusing the same key.
    expect(fake.requests).toHaveLength(c.attempts);
    if (c.provoke === 'unknown-run') {
      expect(fake.requests[0]).toMatchObject({ method: 'GET', rawPath: '/api/v1/runs/run_doesnotexist' });
      expect(fake.requests[0]!.headers['idempotency-key']).toBeUndefined();
    } else {
      expect(fake.requests.every((r) => r.method === 'POST' && r.rawPath === '/api/v1/generate')).toBe(true);
      expect(keysOf(fake.requests)).toEqual(Array(c.attempts).fill(key));
      expect(fake.runs.size).toBe(0);
    }

    // What the caller got.
    const p: ErrorPayload = err.toPayload();
    expect(p.code).toBe(c.code);
    expect(p.status).toBe(c.status);
    expect(p.retryable).toBe(c.retryable);
    expect(p.fields).toEqual(c.fields);
    expect(p.idempotency_key).toBeUndefined();
    expect(requestIds).toHaveLength(c.attempts);
    expect(p.request_id).toMatch(/^req_\d+$/);
    expect(p.request_id).toBe(requestIds.at(-1));
    expect(p.message.startsWith(c.floraMessage)).toBe(true);
    for (const advice of c.advice) expect(p.message).toMatch(advice);
  });

  it('409 idempotency_duplicate on a first attempt says the key was already used, and is not retried', async () => {
    const key = newKey();
    const { client, requestIds } = tappedClient();
    const first = await client.generate(BODY, key);

    const err = await failure(() => client.generate(BODY, key));

    expect(fake.requests).toHaveLength(2);
    expectGenerateRequest(fake.requests[0], key);
    expectGenerateRequest(fake.requests[1], key);
    expect([...fake.runs.keys()]).toEqual([first.run_id]);

    const p = err.toPayload();
    expect(p).toMatchObject({ code: 'idempotency_duplicate', status: 409, retryable: false });
    expect(p.request_id).toBe(requestIds[1]);
    expect(p.message).toMatch(/^Duplicate idempotency key\./);
    expect(p.message).toMatch(/already accepted a request with this idempotency_key/);
    expect(p.message).toMatch(/Do not reuse this key/);
  });

  it.each([
    [400, 'input_validation_error'],
    [401, 'invalid_api_key'],
    [402, 'insufficient_credits'],
    [403, 'forbidden'],
    [404, 'not_found'],
    [409, 'idempotency_duplicate'],
  ])('%i %s is never retried: one request, even for a GET', async (status, code) => {
    fake.route('GET /models', () => floraError(status, code, 'No.'));

    const err = await failure(() => makeClient().listModels('image'));

    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toMatchObject({ method: 'GET', rawPath: '/api/v1/models', query: { type: 'image' } });
    expect(err.toPayload()).toMatchObject({ code, status, retryable: false });
    expect(err.message).not.toMatch(/gave up after/);
  });
});

describe('rate limits', () => {
  it.each([
    ['Retry-After: 1', 'about a second', { 'retry-after': '1' }, 900],
    ['retry-after-ms: 50', '50 ms', { 'retry-after-ms': '50' }, 45],
  ])('429 with %s waits %s, then retries once with the same key', async (_header, _wait, headers, minGapMs) => {
    const key = newKey();
    fake.once('POST /generate', tooManyRequests(headers));

    const started = await makeClient().generate(BODY, key);

    const reqs = fake.requestsTo('POST', '/generate');
    expect(reqs).toHaveLength(2);
    expectGenerateRequest(reqs[0], key);
    expectGenerateRequest(reqs[1], key);
    expect(reqs[1]!.at - reqs[0]!.at).toBeGreaterThanOrEqual(minGapMs);
    expect([...fake.runs.keys()]).toEqual([started.run_id]);
    expect(fake.runs.get(started.run_id)?.idempotency_key).toBe(key);
  });

  // 30 s is within the call's total time budget (60 s), so only maxRetryAfterMs (20 s) stops it.
  it.each([120, 30])('429 with Retry-After: %i (over maxRetryAfterMs) is handed back at once', async (secs) => {
    const key = newKey();
    fake.route('POST /generate', tooManyRequests({ 'retry-after': String(secs) }));
    const t0 = Date.now();

    const err = await failure(() => makeClient().generate(BODY, key));

    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(fake.requests).toHaveLength(1);
    expectGenerateRequest(fake.requests[0], key);
    const p = err.toPayload();
    expect(p).toMatchObject({ code: 'rate_limited', status: 429, retryable: true, retry_after_seconds: secs });
    expect(p.message).toMatch(new RegExp(`Wait ${secs} s before calling again`));
  });
  it('429 with Retry-After: 2 is handed back at once when waiting it out would overrun maxTotalMs', async () => {
    const key = newKey();
    // Only the first answer is a 429: a client that waited it out would start the run on its retry.
    fake.once('POST /generate', tooManyRequests({ 'retry-after': '2' }));

    // 2 s is well under maxRetryAfterMs (20 s): only the 2.5 s total budget stops the retry.
    const err = await failure(() => makeClient({ timeoutMs: 2_000, maxTotalMs: 2_500 }).generate(BODY, key));

    expect(fake.requests).toHaveLength(1);
    expectGenerateRequest(fake.requests[0], key);
    expect(fake.runs.size).toBe(0);
    const p = err.toPayload();
    expect(p).toMatchObject({ code: 'rate_limited', status: 429, retryable: true, retry_after_seconds: 2 });
    expect(p.message).toContain('Wait 2 s before calling again');
  });
});

describe('5xx retries', () => {
  it.each([
    [500, 'unknown_error'],
    [502, 'bad_gateway'],
    [503, 'service_unavailable'],
    [504, 'gateway_timeout'],
  ])('%i %s is retried maxRetries times with the same key, then reported with the attempt count', async (status, code) => {
    const key = newKey();
    const { client, requestIds } = tappedClient();
    fake.route('POST /generate', () => floraError(status, code, 'Upstream trouble.'));

    const err = await failure(() => client.generate(BODY, key));

    expect(fake.requests).toHaveLength(3);
    for (const req of fake.requests) expectGenerateRequest(req, key);
    const p = err.toPayload();
    expect(p).toMatchObject({ code, status, retryable: true, request_id: requestIds[2] });
    expect(p.message).toMatch(/gave up after 3 attempts/);
  });

  it('total attempts follow maxRetries: 1 retry means 2 attempts', async () => {
    const key = newKey();
    fake.route('POST /generate', () => floraError(503, 'service_unavailable', 'Down.'));

    const err = await failure(() => makeClient({ maxRetries: 1 }).generate(BODY, key));

    expect(keysOf(fake.requests)).toEqual([key, key]);
    expect(err.toPayload()).toMatchObject({ code: 'service_unavailable', status: 503 });
    expect(err.message).toMatch(/gave up after 2 attempts/);
  });

  it('a 503 then a 502 then success returns the run, started once, with one key', async () => {
    const key = newKey();
    fake.once('POST /generate', () => floraError(503, 'service_unavailable', 'Down.'));
    fake.once('POST /generate', () => floraError(502, 'bad_gateway', 'Bad gateway.'));

    const started = await makeClient().generate(BODY, key);

    expect(fake.requests).toHaveLength(3);
    for (const req of fake.requests) expectGenerateRequest(req, key);
    expect([...fake.runs.keys()]).toEqual([started.run_id]);
  });
});

describe('connection failures', () => {
  it('a reset connection is retried with the same key and the run is returned', async () => {
    const key = newKey();
    fake.once('POST /generate', faults.reset);

    const started = await makeClient().generate(BODY, key);

    expect(fake.requests).toHaveLength(2);
    expectGenerateRequest(fake.requests[0], key);
    expectGenerateRequest(fake.requests[1], key);
    expect([...fake.runs.keys()]).toEqual([started.run_id]);
    expect(started.type).toBe('generation');
  });

  it('a reset on every attempt is network_error carrying the key to retry with', async () => {
    const key = newKey();
    fake.route('POST /generate', faults.reset);

    const err = await failure(() => makeClient().generate(BODY, key));

    expect(fake.requests).toHaveLength(3);
    for (const req of fake.requests) expectGenerateRequest(req, key);
    expect(fake.runs.size).toBe(0);
    const p = err.toPayload();
    expect(p).toMatchObject({ code: 'network_error', retryable: true, idempotency_key: key });
    expect(p.status).toBeUndefined();
    expect(p.message).toMatch(/may or may not have started/);
    expect(p.message).toContain(`idempotency_key "${key}"`);
  });

  it('a retry answered idempotency_duplicate reports that the first attempt landed', async () => {
    const key = newKey();
    fake.once('POST /generate', (_req, res, ctx) => {
      ctx.defaultReply();
      res.socket?.resetAndDestroy();
    });

    const err = await failure(() => makeClient().generate(BODY, key));

    expect(fake.requests).toHaveLength(2);
    expectGenerateRequest(fake.requests[0], key);
    expectGenerateRequest(fake.requests[1], key);
    expect(fake.runs.size).toBe(1);
    expect([...fake.runs.values()][0]!.idempotency_key).toBe(key);
    const p = err.toPayload();
    expect(p).toMatchObject({ code: 'idempotency_duplicate', status: 409, retryable: false, idempotency_key: key });
    expect(p.message).toMatch(/earlier attempt of this call reached FLORA/);
    expect(p.message).toMatch(/Do not start it again/);
  });

  it('a definite error after a lost answer still hands over the key: the lost attempt may have started the run', async () => {
    const key = newKey();
    // The first attempt lands and its answer is lost; the retry is refused for another reason.
    fake.once('POST /generate', (_req, res, ctx) => {
      ctx.defaultReply();
      res.socket?.resetAndDestroy();
    });
    fake.once('POST /generate', () => floraError(400, 'input_validation_error', 'Prompt rejected.'));

    const err = await failure(() => makeClient().generate(BODY, key));

    expect(fake.requests).toHaveLength(2);
    expect(fake.runs.size).toBe(1);
    const p = err.toPayload();
    expect(p).toMatchObject({ code: 'input_validation_error', status: 400, idempotency_key: key });
    expect(p.message).toContain('an earlier attempt of this call got no readable answer');
    expect(p.message).toContain(`idempotency_key "${key}"`);
  });

  it('a definite error with no lost attempt before it carries no key', async () => {
    const key = newKey();
    fake.once('POST /generate', () => floraError(400, 'input_validation_error', 'Prompt rejected.'));
    const p = (await failure(() => makeClient().generate(BODY, key))).toPayload();
    expect(p.code).toBe('input_validation_error');
    expect(p.idempotency_key).toBeUndefined();
  });

  it('a hung FLORA becomes timeout after about FLORA_TIMEOUT_MS, without a retry', async () => {
    const key = newKey();
    fake.route('POST /generate', faults.hang);
    const t0 = Date.now();

    const err = await failure(() => makeClient({ timeoutMs: 300 }).generate(BODY, key));

    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2_000);
    expect(fake.requests).toHaveLength(1);
    expectGenerateRequest(fake.requests[0], key);
    const p = err.toPayload();
    expect(p).toMatchObject({ code: 'timeout', retryable: true, idempotency_key: key });
    expect(p.message).toMatch(/FLORA_TIMEOUT_MS/);
    expect(p.message).toMatch(/300 ms/);
  });
});

describe('answers that are not FLORA JSON', () => {
  it('an HTML 502 on every attempt is upstream_error with status 502', async () => {
    const { client, requestIds } = tappedClient();
    fake.route('GET /models', faults.html(502));

    const err = await failure(() => client.listModels('image'));

    expect(fake.requests).toHaveLength(3);
    for (const req of fake.requests) {
      expect(req).toMatchObject({ method: 'GET', rawPath: '/api/v1/models', query: { type: 'image' } });
    }
    const p = err.toPayload();
    expect(p).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, request_id: requestIds[2] });
    expect(p.message).toMatch(/not FLORA's JSON error \(text\/html/);
    expect(p.message).toMatch(/gave up after 3 attempts/);
  });

  it('a 200 with truncated JSON to a start is upstream_error, not retried, with the key to reuse', async () => {
    const key = newKey();
    fake.route('POST /generate', faults.truncated());

    const err = await failure(() => makeClient().generate(BODY, key));

    expect(fake.requests).toHaveLength(1);
    expectGenerateRequest(fake.requests[0], key);
    const p = err.toPayload();
    expect(p).toMatchObject({ code: 'upstream_error', status: 200, retryable: false, idempotency_key: key });
    expect(p.message).toMatch(/not valid JSON/);
    expect(p.message).toContain(`idempotency_key "${key}"`);
  });

  it('a 200 run missing its required fields is upstream_error naming them', async () => {
    fake.route('GET /runs/:id', () => ({ status: 200, body: {} }));

    const err = await failure(() => makeClient().getRun('run_abc123'));

    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toMatchObject({ method: 'GET', rawPath: '/api/v1/runs/run_abc123' });
    const p = err.toPayload();
    expect(p).toMatchObject({ code: 'upstream_error', status: 200, retryable: false });
    expect(p.request_id).toMatch(/^req_\d+$/);
    expect(p.message).toMatch(/unexpected shape/);
    expect(p.message).toMatch(/run_id/);
  });
});

describe('redirects', () => {
  let other: Awaited<ReturnType<typeof startOtherHost>>;
  beforeAll(async () => {
    other = await startOtherHost();
  });
  afterAll(async () => {
    other.server.closeAllConnections();
    await new Promise<void>((resolve) => other.server.close(() => resolve()));
  });
  beforeEach(() => {
    other.hits.length = 0;
  });

  it('a 302 on GET /models is not followed to another host', async () => {
    fake.route('GET /models', () => ({ status: 302, headers: { location: `${other.origin}/steal` } }));

    const err = await failure(() => makeClient().listModels(undefined));

    expect(other.hits).toEqual([]);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toMatchObject({ method: 'GET', rawPath: '/api/v1/models' });
    const p = err.toPayload();
    expect(p).toMatchObject({ code: 'upstream_error', status: 302, retryable: false });
    expect(p.message).toMatch(/FLORA_BASE_URL/);
    expect(p.message).toContain(`${other.origin}/steal`);
  });

  it('a 307 on POST /generate does not replay the body and key elsewhere', async () => {
    const key = newKey();
    fake.route('POST /generate', () => ({ status: 307, headers: { location: `${other.origin}/steal` } }));

    const err = await failure(() => makeClient().generate(BODY, key));

    expect(other.hits).toEqual([]);
    expect(fake.requests).toHaveLength(1);
    expectGenerateRequest(fake.requests[0], key);
    expect(err.toPayload()).toMatchObject({ code: 'upstream_error', status: 307, retryable: false });
    expect(err.message).toMatch(/FLORA_BASE_URL/);
  });
});

describe('cancellation', () => {
  it('aborting during a hang rejects with cancelled quickly', async () => {
    fake.route('GET /runs/:id', faults.hang);
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 100);
    const t0 = Date.now();

    const err = await failure(() => makeClient({ timeoutMs: 10_000 }).getRun('run_abc', { signal: ctl.signal }));

    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toMatchObject({ method: 'GET', rawPath: '/api/v1/runs/run_abc' });
    expect(err.toPayload()).toMatchObject({ code: 'cancelled', retryable: false });
  });

  it('aborting while waiting out a Retry-After stops before the retry', async () => {
    const key = newKey();
    fake.route('POST /generate', tooManyRequests({ 'retry-after': '10' }));
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 100);
    const t0 = Date.now();

    const err = await failure(() => makeClient().generate(BODY, key, { signal: ctl.signal }));

    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(fake.requests).toHaveLength(1);
    expectGenerateRequest(fake.requests[0], key);
    expect(err.code).toBe('cancelled');
  });

  it('an already-aborted signal sends nothing', async () => {
    const err = await failure(() => makeClient().generate(BODY, newKey(), { signal: AbortSignal.abort() }));

    expect(fake.requests).toHaveLength(0);
    expect(fake.runs.size).toBe(0);
    expect(err.code).toBe('cancelled');
  });
});

describe('run ID validation', () => {
  it.each([
    ['a slash', 'run_abc/../../models'],
    ['a plain slash', 'run_a/b'],
    ['a question mark', 'run_abc?type=video'],
    ['a hash', 'run_abc#frag'],
    ['a percent', 'run_abc%2Fmodels'],
    ['dot-dot', 'run_..'],
    ['embedded dot-dot', 'run_a..b'],
    ['a space', 'run_abc def'],
    ['a tab', 'run_abc\tdef'],
    ['a trailing newline', 'run_abc\n'],
    ['a backslash', 'run_a\\b'],
    ['no run_ prefix', 'abc123'],
    ['another prefix', 'gen_abc123'],
    ['only the prefix', 'run_'],
    ['nothing', ''],
  ])('an ID with %s is refused before any request', async (_label, runId) => {
    const err = await failure(() => makeClient().getRun(runId));

    expect(fake.requests).toHaveLength(0);
    const p = err.toPayload();
    expect(p.code).toBe('invalid_arguments');
    expect(p.retryable).toBe(false);
    expect(p.fields?.[0]?.field).toBe('run_id');
    expect(p.fields?.[0]?.message).toMatch(/run_/);
  });
});

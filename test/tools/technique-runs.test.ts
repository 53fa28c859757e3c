/**
 * Technique runs after the start: retries with one key, a lost answer found again in
 * GET /technique-runs (never a second run), waits with progress, and poll_run reading technique
 * runs where they live, GET /techniques/{technique_id}/runs/{run_id}, for runs this server started
 * and for runs another client started.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LOOKBACK_LIMIT } from '../../src/flora/recover.js';
import { type FakeFlora, type FakeRun, faults, floraError, type RecordedRequest } from '../helpers/fake-flora.js';
import { failure, success, useConnections, VALID_TECHNIQUE_RUN } from '../helpers/harness.js';

let fake: FakeFlora;

const { open } = useConnections((f) => (fake = f));

const PODCAST = {
  technique_id: 'tech_podcast-cover',
  workspace_id: 'ws_studio',
  inputs: { episode: 'https://media.flora.ai/u/ep1.mp3', title: 'Episode 1' },
} as const;

/** Each route with the call that takes it, and where its key travels. */
const ROUTES = [
  {
    route: 'POST /techniques/:id/runs',
    args: VALID_TECHNIQUE_RUN,
    keyOf: (r: RecordedRequest) => (r.body as Record<string, unknown>).idempotency_key,
  },
  { route: 'POST /runs/technique', args: PODCAST, keyOf: (r: RecordedRequest) => r.headers['idempotency-key'] },
] as const;

function startsTo(route: string): RecordedRequest[] {
  const [method, path] = route.split(' ') as [string, string];
  return fake.requestsTo(method, path);
}

/** The next start on `route` creates its run, then the connection drops before the answer. */
function loseNextAnswer(route: string): void {
  fake.once(route, (_req, res, ctx) => {
    ctx.defaultReply();
    res.socket?.resetAndDestroy();
  });
}

/** A technique run someone else started just now in FLORA. */
function othersRun(runId: string, techniqueId: string): FakeRun {
  return {
    run_id: runId,
    workspace_id: 'ws_studio',
    project_id: 'prj_elsewhere',
    type: 'image',
    model_id: '',
    prompt: 'by a colleague',
    idempotency_key: undefined,
    created_at: Date.now(),
    duration_ms: 60_000,
    charged_cost: 0.05,
    technique_id: techniqueId,
  };
}

async function callWithProgress(
  name: string,
  args: Record<string, unknown>,
): Promise<{ result: CallToolResult; events: Array<{ progress: number; message?: string }> }> {
  const c = await open();
  const events: Array<{ progress: number; message?: string }> = [];
  const result = (await c.client.callTool({ name, arguments: args }, undefined, {
    onprogress: (p) => events.push(p),
  })) as CallToolResult;
  return { result, events };
}

describe('run_technique: retries and lost answers never start a second run', () => {
  it.each(ROUTES)('$route: a 503 is retried with the same key, and one run starts', async ({ route, args, keyOf }) => {
    fake.once(route, () => floraError(503, 'service_unavailable', 'Busy.'));
    const out = success(await (await open()).call('run_technique', { ...args }));

    const starts = startsTo(route);
    expect(starts).toHaveLength(2);
    expect(keyOf(starts[0]!)).toEqual(expect.any(String));
    expect(keyOf(starts[1]!)).toBe(keyOf(starts[0]!));
    expect(starts[1]!.rawBody).toBe(starts[0]!.rawBody);
    expect([...fake.runs.keys()]).toEqual([out.run_id]);
  });

  it.each(ROUTES)('$route: a lost answer is found in GET /technique-runs, not started again', async ({ route, args, keyOf }) => {
    loseNextAnswer(route);
    const out = success(await (await open()).call('run_technique', { ...args }));

    const starts = startsTo(route);
    expect(starts).toHaveLength(2);
    expect(keyOf(starts[1]!)).toBe(keyOf(starts[0]!));
    const lookups = fake.requestsTo('GET', '/technique-runs');
    expect(lookups).toHaveLength(1);
    expect(lookups[0]!.query).toEqual({
      workspace_id: 'ws_studio',
      technique_id: args.technique_id,
      limit: String(LOOKBACK_LIMIT),
    });
    expect(fake.runs.size).toBe(1);
    const [ours] = [...fake.runs.values()];
    expect(out).toMatchObject({ run_id: ours!.run_id, technique_id: args.technique_id, recovered: true });
    expect(out.summary).toContain("found in the workspace's technique runs");
    // The recovered run is remembered with its technique: poll_run finds it without technique_id.
    fake.requests.length = 0;
    success(await (await open()).call('poll_run', { run_id: ours!.run_id }), 1);
    expect(fake.requests.map((r) => r.rawPath)).toEqual([`/api/v1/techniques/${args.technique_id}/runs/${ours!.run_id}`]);
  });

  it('an unreadable 2xx answer is a lost start too: the run is found, not started again', async () => {
    fake.once('POST /techniques/:id/runs', (_req, _res, ctx) => {
      ctx.defaultReply();
      return faults.truncated(201)(_req, _res, ctx);
    });
    const out = success(await (await open()).call('run_technique', { ...VALID_TECHNIQUE_RUN }));

    expect(startsTo('POST /techniques/:id/runs')).toHaveLength(1);
    expect(fake.runs.size).toBe(1);
    expect(out).toMatchObject({ run_id: [...fake.runs.keys()][0], recovered: true });
  });

  it('when FLORA replays the first answer for a repeated body key (its docs), that run is the answer', async () => {
    fake.techniqueKeyReplay = true;
    loseNextAnswer('POST /techniques/:id/runs');
    const out = success(await (await open()).call('run_technique', { ...VALID_TECHNIQUE_RUN }));

    expect(startsTo('POST /techniques/:id/runs')).toHaveLength(2);
    expect(fake.requestsTo('GET', '/technique-runs')).toHaveLength(0);
    expect(fake.runs.size).toBe(1);
    expect(out.run_id).toBe([...fake.runs.keys()][0]);
    expect(out).not.toHaveProperty('recovered');
  });

  it('refuses to guess between two candidates: idempotency_duplicate listing both, with the key, no new run', async () => {
    const colleague = othersRun('run_colleague', 'tech_product-shot');
    fake.runs.set(colleague.run_id, colleague);
    loseNextAnswer('POST /techniques/:id/runs');
    const error = failure(await (await open()).call('run_technique', { ...VALID_TECHNIQUE_RUN }));

    const key = (startsTo('POST /techniques/:id/runs')[0]!.body as { idempotency_key: string }).idempotency_key;
    const ours = [...fake.runs.values()].find((r) => r.idempotency_key === key)!;
    expect(error).toMatchObject({ code: 'idempotency_duplicate', retryable: false, idempotency_key: key });
    expect(error.message).toContain(`could not be identified unambiguously in the workspace's recent technique runs`);
    expect(error.message).toContain(ours.run_id);
    expect(error.message).toContain(colleague.run_id);
    expect(error.message).toContain('Do not start the technique run again');
    expect(fake.runs.size).toBe(2);
  });

  it('ignores a fresh run of another technique when looking for the lost one', async () => {
    const other = othersRun('run_otherTechnique', 'tech_video-restyle');
    fake.runs.set(other.run_id, other);
    fake.once('GET /technique-runs', (_req, _res, ctx) => {
      // FLORA ignoring the technique filter must not make the other run a candidate.
      const reply = ctx.defaultReply();
      const body = reply.body as { technique_runs: unknown[] };
      const listed = { ...fake.runView(other), technique: { technique_id: other.technique_id }, workspace_id: 'ws_studio' };
      return { ...reply, body: { ...body, technique_runs: [listed, ...body.technique_runs] } };
    });
    loseNextAnswer('POST /techniques/:id/runs');
    const out = success(await (await open()).call('run_technique', { ...VALID_TECHNIQUE_RUN }));

    expect(out.recovered).toBe(true);
    expect(out.run_id).not.toBe(other.run_id);
    expect(fake.runs.size).toBe(2);
  });

  it('a timeout hands the agent the key and the tool to retry with; the retry is refused as a duplicate', async () => {
    fake.once('POST /techniques/:id/runs', (_req, _res, ctx) => {
      ctx.defaultReply();
      return new Promise<void>(() => {});
    });
    const c = await open({ env: { FLORA_TIMEOUT_MS: '200' } });
    const error = failure(await c.call('run_technique', { ...VALID_TECHNIQUE_RUN }));

    const key = (startsTo('POST /techniques/:id/runs')[0]!.body as { idempotency_key: string }).idempotency_key;
    expect(error).toMatchObject({ code: 'timeout', retryable: true, idempotency_key: key });
    expect(error.message).toContain(`call run_technique with idempotency_key "${key}"`);
    expect(fake.runs.size).toBe(1);

    const again = failure(await c.call('run_technique', { ...VALID_TECHNIQUE_RUN, idempotency_key: key }));
    expect(again.code).toBe('idempotency_duplicate');
    expect(fake.runs.size).toBe(1);
  });
});

describe('run_technique: a retry with a key goes where the key first went', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** The next start on `route` creates its run, and its answer never comes. */
  function hangNext(route: string): void {
    fake.once(route, (_req, _res, ctx) => {
      ctx.defaultReply();
      return new Promise<void>(() => {});
    });
  }

  it('a key first sent to POST /runs/technique (definition unreadable) goes there again once the definition is back', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    fake.once('GET /techniques/:id', faults.html(502));
    hangNext('POST /runs/technique');
    const c = await open({ env: { FLORA_TIMEOUT_MS: '200' } });
    const error = failure(await c.call('run_technique', { ...VALID_TECHNIQUE_RUN }));
    expect(error).toMatchObject({ code: 'timeout', idempotency_key: expect.any(String) });

    // A minute later the definition can be read, and would send this technique to the other route.
    vi.setSystemTime(Date.now() + 61_000);
    const again = failure(await c.call('run_technique', { ...VALID_TECHNIQUE_RUN, idempotency_key: error.idempotency_key }));

    expect(fake.requestsTo('GET', '/techniques/:id')).toHaveLength(2);
    expect(fake.requestsTo('POST', '/techniques/:id/runs')).toHaveLength(0);
    const starts = fake.requestsTo('POST', '/runs/technique');
    expect(starts.map((r) => r.headers['idempotency-key'])).toEqual([error.idempotency_key, error.idempotency_key]);
    expect(again.code).toBe('idempotency_duplicate');
    expect(fake.runs.size).toBe(1);
  });

  it('a key first sent to POST /techniques/{id}/runs is not sent elsewhere when that route cannot be used now', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    hangNext('POST /techniques/:id/runs');
    const c = await open({ env: { FLORA_TIMEOUT_MS: '200' } });
    const error = failure(await c.call('run_technique', { ...VALID_TECHNIQUE_RUN }));
    expect(error.code).toBe('timeout');

    // Eleven minutes later the cached definition has expired and FLORA cannot give it.
    vi.setSystemTime(Date.now() + 11 * 60_000);
    fake.once('GET /techniques/:id', faults.html(502));
    fake.requests.length = 0;
    const again = failure(await c.call('run_technique', { ...VALID_TECHNIQUE_RUN, idempotency_key: error.idempotency_key }));

    expect(fake.requests.map((r) => `${r.method} ${r.rawPath}`)).toEqual(['GET /api/v1/techniques/tech_product-shot']);
    expect(again).toMatchObject({ code: 'technique_unavailable', retryable: true, idempotency_key: error.idempotency_key });
    expect(again.message).toContain('first sent to POST /techniques/{id}/runs');
    expect(fake.runs.size).toBe(1);
  });
});

describe('run_technique and poll_run: waiting, progress and results', () => {
  it('with wait_seconds returns the finished run with outputs as resource links, read where technique runs live', async () => {
    fake.runPlan = { durationMs: 1_000 };
    const result = await (await open()).call('run_technique', { ...PODCAST, wait_seconds: 10 });
    const out = success(result, 1);
    const run = out.run as Record<string, unknown>;

    // POST /runs/technique quotes estimated_seconds: the poll lands just after the end.
    const polls = fake.requests.filter((r) => r.method === 'GET' && r.path.includes('/runs/'));
    expect(polls.map((r) => r.rawPath)).toEqual([`/api/v1/techniques/tech_podcast-cover/runs/${out.run_id as string}`]);
    expect(run).toMatchObject({ status: 'completed', done: true, technique_id: 'tech_podcast-cover' });
    expect(out.summary).toContain('completed with 1 output(s) (imageUrl)');
    expect(result.content[1]).toMatchObject({ type: 'resource_link', mimeType: 'image/png' });
  });

  it('a run that is done in the start answer needs no poll', async () => {
    const result = await (await open()).call('run_technique', { ...VALID_TECHNIQUE_RUN, wait_seconds: 10 });
    const out = success(result, 1);
    expect(fake.requests.map((r) => r.method)).toEqual(['GET', 'POST']);
    expect(out.run).toMatchObject({ status: 'completed', done: true });
  });

  it('a failed technique run is a normal result with retry advice', async () => {
    fake.runPlan = { durationMs: 0, fail: { code: 'GENERATION_PROVIDER_TIMEOUT', message: 'Provider timed out.' } };
    const out = success(await (await open()).call('run_technique', { ...VALID_TECHNIQUE_RUN, wait_seconds: 5 }));
    expect(out.run).toMatchObject({
      status: 'failed',
      error_code: 'GENERATION_PROVIDER_TIMEOUT',
      retry_may_help: true,
    });
  });

  it("poll_run with wait_seconds passes FLORA's real progress on, rising to 100", async () => {
    fake.runPlan = { durationMs: 1_600 };
    const c = await open();
    const started = success(await c.call('run_technique', { ...VALID_TECHNIQUE_RUN }));
    // The run has been going for a second.
    fake.runs.get(started.run_id as string)!.created_at -= 1_000;
    fake.requests.length = 0;

    const { result, events } = await callWithProgress('poll_run', { run_id: started.run_id, wait_seconds: 10 });

    expect(success(result, 1)).toMatchObject({ status: 'completed', technique_id: 'tech_product-shot' });
    const values = events.map((e) => e.progress);
    expect(values.at(-1)).toBe(100);
    expect(values.some((v) => v > 0 && v < 100)).toBe(true);
    expect([...values].sort((a, b) => a - b)).toEqual(values);
    expect(events[0]!.message).toMatch(/^running, \d+%/);
    for (const r of fake.requests) expect(r.path).toContain('/techniques/tech_product-shot/runs/');
  });

  it('poll_run on an unfinished technique run suggests when to look again, naming technique_id', async () => {
    fake.runPlan = { durationMs: 60_000 };
    const c = await open();
    const started = success(await c.call('run_technique', { ...VALID_TECHNIQUE_RUN }));
    const out = success(await c.call('poll_run', { run_id: started.run_id }));

    expect(out).toMatchObject({ done: false, technique_id: 'tech_product-shot' });
    expect(out.next_poll_seconds).toEqual(expect.any(Number));
    expect(out.summary).toContain('call poll_run again with technique_id "tech_product-shot" and wait_seconds');
    expect(fake.requestsTo('GET', '/runs/:id')).toHaveLength(0);
  });
});

describe('poll_run: a technique run another client started', () => {
  async function startedElsewhere(): Promise<string> {
    const other = await open({ env: {} });
    const started = success(await other.call('run_technique', { ...VALID_TECHNIQUE_RUN }));
    await open({ env: {} });
    fake.requests.length = 0;
    return started.run_id as string;
  }

  it('is read at GET /techniques/{technique_id}/runs/{run_id} when technique_id is given; the poll_url is not used', async () => {
    const runId = await startedElsewhere();
    fake.route('GET /techniques/:id/runs/:id', (_req, _res, ctx) => {
      const reply = ctx.defaultReply();
      return { ...reply, body: { ...(reply.body as object), poll_url: 'http://127.0.0.1:1/evil' } };
    });
    const c = await open();
    const out = success(await c.call('poll_run', { run_id: runId, technique_id: 'tech_product-shot' }), 1);

    expect(fake.requests.map((r) => `${r.method} ${r.rawPath}`)).toEqual([
      `GET /api/v1/techniques/tech_product-shot/runs/${runId}`,
    ]);
    expect(out).toMatchObject({ run_id: runId, status: 'completed', technique_id: 'tech_product-shot' });
  });

  it('without technique_id, GET /runs/{id} answers 404 and the error says to pass technique_id', async () => {
    const runId = await startedElsewhere();
    const error = failure(await (await open()).call('poll_run', { run_id: runId }));

    expect(fake.requests.map((r) => `${r.method} ${r.rawPath}`)).toEqual([`GET /api/v1/runs/${runId}`]);
    expect(error).toMatchObject({ code: 'not_found', status: 404 });
    expect(error.message).toContain('If it is a technique run, pass its technique_id');
  });

  it('with the wrong technique_id is not_found', async () => {
    const runId = await startedElsewhere();
    const error = failure(await (await open()).call('poll_run', { run_id: runId, technique_id: 'tech_video-restyle' }));
    expect(error.code).toBe('not_found');
    expect(fake.requests.map((r) => r.rawPath)).toEqual([`/api/v1/techniques/tech_video-restyle/runs/${runId}`]);
  });
});

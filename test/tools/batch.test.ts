/**
 * start_generation_batch and poll_runs through a real SDK client against the fake FLORA: each item
 * started as start_generation_run starts one (own key, same checks), in order, with per-item
 * errors as a normal result; bounded and paced parallelism; runs waited for by list; many runs
 * polled at once; cancellation; and the limits refused before anything is sent.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { BATCH_PACING, type BatchPacing } from '../../src/tools/batch/pacing.js';
import { startGenerationBatch } from '../../src/tools/batch/start-generation-batch.js';
import { type FakeFlora, floraError, MODELS } from '../helpers/fake-flora.js';
import { failure, success, useConnections, VALID_START } from '../helpers/harness.js';

let fake: FakeFlora;
const { open } = useConnections((f) => (fake = f));

type Entry = Record<string, unknown> & { index: number; run_id?: string; error?: Record<string, unknown> };

const item = (prompt: string, extra: Record<string, unknown> = {}) => ({ ...VALID_START, prompt, ...extra });
const prompts = (n: number) => Array.from({ length: n }, (_, i) => item(`frame ${i}`));

function runsOf(out: Record<string, unknown>): Entry[] {
  return out.runs as Entry[];
}

function posts() {
  return fake.requestsTo('POST', '/generate');
}

/** A connection serving only start_generation_batch, paced as given (tests cannot wait 5 s a start). */
async function openPaced(pacing: Partial<BatchPacing>, env: Record<string, string> = {}) {
  const options = loadConfig(env);
  return open({ env, tools: [startGenerationBatch(options, { ...BATCH_PACING, ...pacing })] });
}

const KREA = {
  ...MODELS[0]!,
  model_id: 't2i-krea-1',
  name: 'Krea 1',
  provider: 'krea',
  params: [],
};

describe('start_generation_batch: starts', () => {
  it('answers one entry per item in the order given, each run the one FLORA made from that item', async () => {
    const c = await open();
    const out = success(await c.call('start_generation_batch', { generations: prompts(5) }));
    const runs = runsOf(out);

    expect(out).toMatchObject({ started: 5, failed: 0 });
    expect(runs.map((r) => r.index)).toEqual([0, 1, 2, 3, 4]);
    for (const r of runs) expect(fake.runs.get(r.run_id!)?.prompt).toBe(`frame ${r.index}`);
    expect(fake.runs.size).toBe(5);
    expect(out.summary).toContain('Started 5 of 5 generation(s)');
    expect(out.summary).toContain('Next: poll_runs');
  });

  it('gives every item its own Idempotency-Key, and an item its own idempotency_key when it brings one', async () => {
    const c = await open();
    const generations = [...prompts(3), item('retry of an earlier item', { idempotency_key: 'key-from-an-error-1' })];
    success(await c.call('start_generation_batch', { generations }));

    const keys = posts().map((r) => r.headers['idempotency-key']);
    expect(keys).toHaveLength(4);
    expect(new Set(keys).size).toBe(4);
    const retried = posts().find((r) => (r.body as { prompt: string }).prompt === 'retry of an earlier item');
    expect(retried!.headers['idempotency-key']).toBe('key-from-an-error-1');
  });

  it('reports per-item errors in place without failing the call: an unknown model, a 402, and a 500 that a retry saves', async () => {
    fake.route('POST /generate', (req, _res, ctx) => {
      const { prompt } = req.body as { prompt: string };
      if (prompt === 'no credits') return floraError(402, 'insufficient_credits', 'Insufficient credits.');
      // The first attempt of this item fails; FLORA releases the key, so the retry starts it.
      if (prompt === 'flaky' && posts().filter((r) => (r.body as { prompt: string }).prompt === 'flaky').length === 1) {
        return floraError(500, 'unknown_error', 'Something went wrong.');
      }
      return ctx.defaultReply();
    });
    const c = await open();
    const result = await c.call('start_generation_batch', {
      generations: [
        item('fine', { model: 't2i-flux-2-pro' }),
        item('wrong model', { model: 't2i-flux-9' }),
        { ...item('no credits'), workspace_id: 'ws_client' },
        item('flaky'),
      ],
    });
    const out = success(result);
    const runs = runsOf(out);

    expect(result.isError).toBeUndefined();
    expect(out).toMatchObject({ started: 2, failed: 2 });
    expect(runs[0]!.run_id).toMatch(/^run_/);
    expect(runs[1]!.error).toMatchObject({ code: 'input_validation_error', retryable: false });
    expect(runs[1]!.error!.message).toContain('Unknown model "t2i-flux-9"');
    expect(runs[2]!.error).toMatchObject({ code: 'insufficient_credits', status: 402, retryable: false });
    expect(runs[3]!.run_id).toMatch(/^run_/);
    expect(out.summary).toContain('Failed: item 1 input_validation_error, item 2 insufficient_credits');

    // The unknown model never reached FLORA; the 500's retry reused its key; nothing started twice.
    const prompts = posts().map((r) => (r.body as { prompt: string }).prompt);
    expect(prompts.filter((p) => p === 'wrong model')).toEqual([]);
    const flaky = posts().filter((r) => (r.body as { prompt: string }).prompt === 'flaky');
    expect(flaky).toHaveLength(2);
    expect(flaky[1]!.headers['idempotency-key']).toBe(flaky[0]!.headers['idempotency-key']);
    expect(posts().filter((r) => (r.body as { prompt: string }).prompt === 'fine')).toHaveLength(1);
    expect(fake.runs.size).toBe(2);
  });

  it("stops sending a workspace's items once FLORA says it is out of credits; other workspaces go on", async () => {
    fake.route('POST /generate', (req, _res, ctx) =>
      (req.body as { workspace_id: string }).workspace_id === 'ws_studio'
        ? floraError(402, 'insufficient_credits', 'Insufficient credits.')
        : ctx.defaultReply(),
    );
    // One start at a time, so the order is certain.
    const c = await openPaced({ maxInFlight: 1 });
    const out = success(
      await c.call('start_generation_batch', {
        generations: [item('a'), item('b'), { ...item('c'), workspace_id: 'ws_client' }, item('d')],
      }),
    );
    const runs = runsOf(out);

    expect(runs.map((r) => r.error?.code ?? 'started')).toEqual([
      'insufficient_credits',
      'not_started',
      'started',
      'not_started',
    ]);
    expect(runs[1]!.error!.message).toContain('insufficient_credits to item 0');
    expect(runs[1]!.error!.message).toContain('Nothing was sent to FLORA for this item.');
    expect(posts().map((r) => (r.body as { prompt: string }).prompt)).toEqual(['a', 'c']);
  });

  it('keeps at most 6 starts in flight, and really runs them in parallel', async () => {
    // Each start is held until 6 are in flight (or 3 s pass): a 7th would show in the peak.
    fake.startHold = { ms: 3_000, untilInFlight: 6 };
    const c = await open();
    const out = success(await c.call('start_generation_batch', { generations: prompts(12) }));

    expect(out).toMatchObject({ started: 12, failed: 0 });
    expect(fake.peakStartsInFlight).toBeLessThanOrEqual(6);
    expect(fake.peakStartsInFlight).toBeGreaterThan(1);
    expect(posts()).toHaveLength(12);
  });

  it('slows the whole batch down on a 429 instead of failing the item: pauses, then at most 2 in flight', async () => {
    // The first wave of 6 is held; the first start gets 429 Retry-After: 1, and the others are
    // answered only once the server has logged the throttle (so every worker knows of it).
    const warnings: string[] = [];
    let throttled: () => void = () => {};
    const noticed = new Promise<void>((resolve) => {
      throttled = resolve;
    });
    const logger = {
      error() {},
      info() {},
      debug() {},
      warn(message: string) {
        warnings.push(message);
        if (message.includes('429')) throttled();
      },
    };
    fake.startHold = { ms: 3_000, untilInFlight: 6 };
    let answered429At = 0;
    let handled = 0;
    fake.route('POST /generate', async (_req, _res, ctx) => {
      const arrival = ++handled;
      if (arrival === 1) {
        fake.startHold = undefined;
        answered429At = Date.now();
        return { ...floraError(429, 'rate_limited', 'Too many requests.'), headers: { 'retry-after': '1' } };
      }
      if (arrival <= 6) await noticed;
      return ctx.defaultReply();
    });
    const c = await open({ logger });
    const out = success(await c.call('start_generation_batch', { generations: prompts(10) }));

    expect(out).toMatchObject({ started: 10, failed: 0 });
    expect(fake.runs.size).toBe(10);
    // The throttled item went again with its key; the later ones waited out Retry-After, 2 at a time.
    expect(posts()).toHaveLength(11);
    const first = posts()[0]!;
    expect(posts().filter((r) => r.headers['idempotency-key'] === first.headers['idempotency-key'])).toHaveLength(2);
    const later = posts().slice(6);
    expect(Math.max(...fake.startsInFlightOnArrival.slice(6))).toBeLessThanOrEqual(2);
    for (const r of later) expect(r.at - answered429At).toBeGreaterThanOrEqual(950);
    expect(warnings.some((w) => w.includes('at most 2'))).toBe(true);
  });

  it('paces Krea models: one start per interval, and what the call has no time for is not sent', async () => {
    fake.models = [...MODELS, KREA];
    // An interval longer than the time a call has for starts: only the first Krea item can go.
    const c = await openPaced({ pacedSpacingMs: 60_000 });
    const out = success(
      await c.call('start_generation_batch', {
        generations: [
          item('krea 1', { model: 't2i-krea-1' }),
          item('flux', { model: 't2i-flux-2-pro' }),
          item('krea 2', { model: 't2i-krea-1' }),
          item('krea 3', { model: 't2i-krea-1' }),
        ],
      }),
    );
    const runs = runsOf(out);

    expect(runs.map((r) => r.error?.code ?? 'started')).toEqual(['started', 'started', 'not_started', 'not_started']);
    expect(runs[2]!.error).toMatchObject({ retryable: true });
    expect(runs[2]!.error!.message).toContain('started a few seconds apart');
    expect(
      posts()
        .map((r) => (r.body as { prompt: string }).prompt)
        .sort(),
    ).toEqual(['flux', 'krea 1']);
  });

  it('starts Krea items one at a time, in the order given', async () => {
    fake.models = [...MODELS, KREA];
    const c = await openPaced({ pacedSpacingMs: 300 });
    const out = success(
      await c.call('start_generation_batch', {
        generations: [1, 2, 3].map((n) => item(`krea ${n}`, { model: 't2i-krea-1' })),
      }),
    );

    expect(out).toMatchObject({ started: 3, failed: 0 });
    // Paced items take their turns in the order given, one after another.
    expect(posts().map((r) => (r.body as { prompt: string }).prompt)).toEqual(['krea 1', 'krea 2', 'krea 3']);
  });
});

describe('start_generation_batch: arguments refused before anything is sent', () => {
  it.each([
    ['more than 20 items', { generations: prompts(21) }, 'generations', 'at most 20 generations per call'],
    ['no item', { generations: [] }, 'generations', ''],
    ['an item with an empty prompt', { generations: [item('ok'), item('')] }, 'generations.1.prompt', 'must contain text'],
    ['an item with wait_seconds', { generations: [item('ok', { wait_seconds: 5 })] }, 'generations.0.wait_seconds', ''],
    [
      'two items with one idempotency_key',
      { generations: [item('a', { idempotency_key: 'k1' }), item('b', { idempotency_key: 'k1' })] },
      'generations.1.idempotency_key',
      "repeats item 0's",
    ],
  ])('%s', async (_label, args, field, message) => {
    const c = await open();
    const error = failure(await c.call('start_generation_batch', args));
    expect(error.code).toBe('invalid_arguments');
    expect(error.fields?.some((f) => f.field === field && f.message.includes(message))).toBe(true);
    expect(error.message).toContain('nothing was sent to FLORA');
    expect(fake.requests).toHaveLength(0);
  });

  it('applies FLORA_WORKSPACE_ID and FLORA_PROJECT_ID to every item that leaves them out', async () => {
    const c = await open({ env: { FLORA_WORKSPACE_ID: 'ws_client', FLORA_PROJECT_ID: 'prj_other' } });
    success(
      await c.call('start_generation_batch', {
        generations: [
          { prompt: 'a', type: 'image' },
          { prompt: 'b', type: 'image', project_id: 'prj_mugs' },
        ],
      }),
    );
    const bodies = posts().map((r) => r.body as Record<string, string>);
    expect(bodies.map((b) => [b.prompt, b.workspace_id, b.project_id]).sort()).toEqual([
      ['a', 'ws_client', 'prj_other'],
      ['b', 'ws_client', 'prj_mugs'],
    ]);
  });
});

describe('start_generation_batch: waiting', () => {
  it('waits for every run by listing their project once per cycle, never run by run', async () => {
    fake.runPlan = { durationMs: 1_500 };
    const c = await open();
    const result = await c.call('start_generation_batch', { generations: prompts(8), wait_seconds: 20 });
    const out = success(result, 8);
    const runs = runsOf(out);

    expect(out).toMatchObject({ started: 8, failed: 0, done: true });
    expect(out).not.toHaveProperty('still_running');
    for (const r of runs) expect(r).toMatchObject({ status: 'completed', done: true });
    expect(runs.every((r) => (r.outputs as unknown[]).length === 1)).toBe(true);
    expect(result.content.slice(1).every((b) => b.type === 'resource_link')).toBe(true);
    expect(out.summary).toContain('8 of 8 run(s) finished (8 completed, 0 failed)');

    const lists = fake.requestsTo('GET', '/generations');
    expect(fake.requestsTo('GET', '/runs/:id')).toHaveLength(0);
    expect(lists.length).toBeGreaterThanOrEqual(1);
    // Run by run, each cycle would have cost 8 requests.
    expect(lists.length).toBeLessThan(8);
    for (const l of lists) expect(l.query).toEqual({ project_id: 'prj_mugs', limit: '100' });
  });

  it('lists each project once per cycle, and reads a run the list does not show on its own', async () => {
    fake.runPlan = { durationMs: 1_000 };
    let hidden: string | undefined;
    fake.route('GET /generations', (_req, _res, ctx) => {
      const reply = ctx.defaultReply();
      const body = reply.body as { generations: Array<{ run_id: string }> };
      return { ...reply, body: { ...body, generations: body.generations.filter((g) => g.run_id !== hidden) } };
    });
    fake.route('POST /generate', (req, _res, ctx) => {
      const reply = ctx.defaultReply();
      if ((req.body as { prompt: string }).prompt === 'hidden') hidden = (reply.body as { run_id: string }).run_id;
      return reply;
    });
    const c = await open();
    const out = success(
      await c.call('start_generation_batch', {
        generations: [item('a'), item('b', { project_id: 'prj_s01' }), item('hidden'), item('c')],
        wait_seconds: 20,
      }),
      4,
    );

    expect(runsOf(out).every((r) => r.status === 'completed')).toBe(true);
    const lists = fake.requestsTo('GET', '/generations');
    const mugs = lists.filter((l) => l.query.project_id === 'prj_mugs');
    const s01 = lists.filter((l) => l.query.project_id === 'prj_s01');
    expect(mugs.length).toBeGreaterThanOrEqual(1);
    expect(s01).toHaveLength(mugs.length);
    const singles = fake.requestsTo('GET', '/runs/:id');
    expect(singles.map((r) => r.path).every((p) => p === `/runs/${hidden}`)).toBe(true);
    expect(singles).toHaveLength(mugs.length);
  });

  it('never loses a started run it cannot read: a recovered run stays in its place, with poll_error, still to poll', async () => {
    fake.runPlan = { durationMs: 60_000 };
    // The first start's answer is lost (the run exists); recovery finds it in the project's history.
    fake.once('POST /generate', (_req, res, ctx) => {
      ctx.defaultReply();
      res.socket?.resetAndDestroy();
    });
    // Then the runs cannot be read: the polling list fails, and so does every single read.
    // (Recovery's list names the workspace; the batch's polling list, by project, does not.)
    fake.route('GET /generations', (req, _res, ctx) =>
      req.query.workspace_id === undefined ? floraError(503, 'service_unavailable', 'Down.') : ctx.defaultReply(),
    );
    fake.route('GET /runs/:id', () => floraError(404, 'not_found', 'Run not found.'));
    const c = await openPaced({ maxInFlight: 1 });
    const out = success(
      await c.call('start_generation_batch', { generations: [item('lost answer'), item('fine')], wait_seconds: 3 }),
    );
    const runs = runsOf(out);

    expect(fake.runs.size).toBe(2);
    expect(out).toMatchObject({ started: 2, failed: 0, done: false });
    expect(runs[0]).toMatchObject({ recovered: true, status: 'unknown', done: false, poll_error: { code: 'not_found' } });
    expect(runs[1]).toMatchObject({ status: 'pending', done: false, poll_error: { code: 'not_found' } });
    expect(out.still_running).toEqual(expect.arrayContaining([runs[0]!.run_id, runs[1]!.run_id]));
    expect([...fake.runs.keys()].sort()).toEqual([runs[0]!.run_id, runs[1]!.run_id].sort());
  });

  it('when the wait ends first, says which runs are still going and when to call poll_runs', async () => {
    fake.runPlan = { durationMs: 60_000 };
    const c = await open();
    const out = success(await c.call('start_generation_batch', { generations: prompts(3), wait_seconds: 1.5 }));

    const ids = runsOf(out).map((r) => r.run_id);
    expect(out).toMatchObject({ done: false, still_running: ids });
    expect(out.next_poll_seconds).toBeGreaterThan(0);
    expect(out.summary).toContain(`Still going: ${ids.join(', ')}. Call poll_runs with these run_ids`);
    expect(fake.runs.size).toBe(3);
  });

  it('reports progress as runs finished out of runs started', async () => {
    fake.runPlan = { durationMs: 1_000 };
    const c = await open();
    const events: Array<{ progress: number; message?: string }> = [];
    const result = (await c.client.callTool(
      { name: 'start_generation_batch', arguments: { generations: prompts(3), wait_seconds: 20 } },
      undefined,
      { onprogress: (p) => events.push(p) },
    )) as CallToolResult;

    success(result, 3);
    expect(events[0]).toMatchObject({ progress: 0, message: 'starting 3 generation(s)' });
    expect(events.at(-1)).toMatchObject({ progress: 100, message: '3 of 3 runs finished' });
    for (const e of events.slice(1, -1)) expect(e.message).toMatch(/^[0-2] of 3 runs finished$/);
  });

  it('stops waiting at once when the client cancels: nothing more reaches FLORA, the runs stay started', async () => {
    fake.runPlan = { durationMs: 60_000 };
    const c = await open();
    const controller = new AbortController();
    const call = c.client.callTool(
      { name: 'start_generation_batch', arguments: { generations: prompts(4), wait_seconds: 40 } },
      undefined,
      { signal: controller.signal },
    );
    // Cancel once the wait has begun: the first list of the project has reached FLORA.
    while (fake.requestsTo('GET', '/generations').length === 0) await new Promise((r) => setTimeout(r, 50));
    const cancelledAt = Date.now();
    controller.abort('user cancelled');
    await expect(call).rejects.toThrow();

    // Long enough for more cycles had the wait gone on (they are at most 5 s apart).
    await new Promise((r) => setTimeout(r, 5_500));
    expect(fake.requests.filter((r) => r.at > cancelledAt + 100)).toEqual([]);
    expect(fake.runs.size).toBe(4);
  }, 20_000);
});

describe('poll_runs', () => {
  it('answers each run_id in order, an unknown one as a not_found entry, by list where the project is known', async () => {
    fake.runPlan = { durationMs: 0 };
    const c = await open();
    const a = success(await c.call('start_generation_run', item('a')));
    const b = success(await c.call('start_generation_run', item('b')));
    fake.requests.length = 0;
    const result = await c.call('poll_runs', { run_ids: [b.run_id, 'run_unknown', a.run_id] });
    const out = success(result, 2);
    const runs = out.runs as Array<Record<string, unknown>>;

    expect(result.isError).toBeUndefined();
    expect(runs.map((r) => r.run_id)).toEqual([b.run_id, 'run_unknown', a.run_id]);
    expect(runs[0]).toMatchObject({ status: 'completed', done: true });
    expect(runs[1]).toMatchObject({ error: { code: 'not_found', retryable: false } });
    expect(runs[2]).toMatchObject({ status: 'completed', done: true });
    expect(out.summary).toContain('2 of 3 run(s) finished (2 completed, 0 failed; 1 could not be read, see their error)');
    // One list for the project both known runs are in; the unknown ID alone is read by ID.
    expect(fake.requests.map((r) => `${r.method} ${r.path}`).sort()).toEqual(['GET /generations', 'GET /runs/run_unknown']);
  });

  it('reads a technique run this server started on its own route', async () => {
    fake.runPlan = { durationMs: 0 };
    const c = await open();
    const started = success(
      await c.call('run_technique', {
        technique_id: 'tech_product-shot',
        workspace_id: 'ws_studio',
        inputs: { product: 'https://media.flora.ai/uploads/mug.png' },
      }),
    );
    fake.requests.length = 0;
    const out = success(await c.call('poll_runs', { run_ids: [started.run_id] }), 1);

    expect((out.runs as Array<Record<string, unknown>>)[0]).toMatchObject({ run_id: started.run_id, status: 'completed' });
    expect(fake.requests.map((r) => r.path)).toEqual([`/techniques/tech_product-shot/runs/${started.run_id}`]);
  });

  it('refuses more than 20 run_ids, or one twice, before anything is sent', async () => {
    const c = await open();
    const many = failure(await c.call('poll_runs', { run_ids: Array.from({ length: 21 }, (_, i) => `run_${i}`) }));
    expect(many.code).toBe('invalid_arguments');
    expect(many.message).toContain('at most 20 run_ids per call');
    const twice = failure(await c.call('poll_runs', { run_ids: ['run_a', 'run_a'] }));
    expect(twice.fields).toEqual([{ field: 'run_ids.1', message: 'repeats run_ids[0]' }]);
    expect(fake.requests).toHaveLength(0);
  });
});

/**
 * Lost-answer recovery, one rule at a time: which failed starts count as "lost" (the run exists,
 * look it up) and which runs of the project's history may be taken for the lost one. The decoys
 * here are never runs this server answered itself (those are excluded as already known before any
 * other rule applies): they come from a second connection, straight from `fake.runs`, or are
 * added to FLORA's GET /generations answer, so each filter alone decides.
 */
import { describe, expect, it } from 'vitest';
import { LOOKBACK_LIMIT, pickLostRun } from '../../src/flora/recover.js';
import { type FakeFlora, faults, type FakeRun, floraError, type Handler } from '../helpers/fake-flora.js';
import { failure, success, useConnections, VALID_START } from '../helpers/harness.js';

let fake: FakeFlora;

const { open } = useConnections((f) => (fake = f));

const START = { ...VALID_START, model: 't2i-flux-2-pro' } as const;

/** A run someone else started in FLORA: same workspace, project and model as START unless told. */
function decoyRun(runId: string, overrides: Partial<FakeRun> = {}): FakeRun {
  return {
    run_id: runId,
    workspace_id: START.workspace_id,
    project_id: START.project_id,
    type: 'image',
    model_id: START.model,
    prompt: 'a mug, by a colleague',
    idempotency_key: undefined,
    created_at: Date.now(),
    duration_ms: 0,
    charged_cost: 0.04,
    ...overrides,
  };
}

/** The next POST /generate creates its run (after `before`, if given), then the answer is lost. */
function loseNextAnswer(before?: () => Promise<void> | void): void {
  fake.once('POST /generate', async (_req, res, ctx) => {
    await before?.();
    ctx.defaultReply();
    res.socket?.resetAndDestroy();
  });
}

/** The run FLORA created for the call that sent this Idempotency-Key. */
function runOfKey(key: unknown): FakeRun {
  expect(typeof key).toBe('string');
  const runId = fake.idempotencyKeys.get(key as string);
  expect(runId).toBeDefined();
  return fake.runs.get(runId!)!;
}

/** The Idempotency-Key our (first) start sent. */
function sentKey(): unknown {
  return fake.requestsTo('POST', '/generate')[0]!.headers['idempotency-key'];
}

/** GET /generations answers as FLORA would, plus `extra` generations (listed first, newest). */
function listingAlso(extra: Array<Record<string, unknown>>): Handler {
  return (_req, _res, ctx) => {
    const reply = ctx.defaultReply();
    const body = reply.body as { generations: unknown[] };
    return { ...reply, body: { ...body, generations: [...extra, ...body.generations] } };
  };
}

/** A generation as GET /generations lists it, fresh, running, with START's model. */
function listed(runId: string, place: { project_id: string; workspace_id: string }): Record<string, unknown> {
  return {
    run_id: runId,
    generation_id: runId,
    status: 'running',
    progress: 30,
    created_at: Date.now(),
    ...place,
    model: { model_id: START.model },
  };
}

describe('a start is lost only when FLORA may have created its run', () => {
  it('an HTML 502 on every attempt is upstream_error with the key to retry with; no history lookup, no neighbour adopted', async () => {
    // A colleague's run, just started in the same project with the same model: exactly what
    // recovery would take for ours if a 502 were treated like a lost 2xx.
    const neighbour = decoyRun('run_colleague502');
    fake.runs.set(neighbour.run_id, neighbour);
    fake.route('POST /generate', faults.html(502));
    const c = await open();

    const result = await c.call('start_generation_run', { ...START });
    const error = failure(result);

    const posts = fake.requestsTo('POST', '/generate');
    expect(posts).toHaveLength(3);
    const key = posts[0]!.headers['idempotency-key'];
    for (const p of posts) expect(p.headers['idempotency-key']).toBe(key);
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, idempotency_key: key });
    expect(error.message).toContain('may or may not have started');
    expect(error.message).toContain(`idempotency_key "${String(key)}"`);
    expect(error.message).not.toContain(neighbour.run_id);
    expect(fake.requestsTo('GET', '/generations')).toHaveLength(0);
    expect([...fake.runs.keys()]).toEqual([neighbour.run_id]);
  });
});

describe('recovery takes only a run that can be ours', () => {
  it('ignores a fresh run of another project in the same workspace that FLORA lists', async () => {
    fake.once(
      'GET /generations',
      listingAlso([listed('run_otherproject', { project_id: 'prj_s02', workspace_id: START.workspace_id })]),
    );
    loseNextAnswer();
    const c = await open();

    const out = success(await c.call('start_generation_run', { ...START }));

    const ours = runOfKey(sentKey());
    expect(out).toMatchObject({ run_id: ours.run_id, recovered: true, project_id: START.project_id });
    expect(fake.requestsTo('GET', '/generations')).toHaveLength(1);
    expect(fake.requestsTo('POST', '/generate')).toHaveLength(2);
    expect(fake.runs.size).toBe(1);
  });

  it('ignores a fresh run of the same project ID in another workspace that FLORA lists', async () => {
    fake.once(
      'GET /generations',
      listingAlso([listed('run_otherworkspace', { project_id: START.project_id, workspace_id: 'ws_client' })]),
    );
    loseNextAnswer();
    const c = await open();

    const out = success(await c.call('start_generation_run', { ...START }));

    const ours = runOfKey(sentKey());
    expect(out).toMatchObject({ run_id: ours.run_id, recovered: true, project_id: START.project_id });
    expect(fake.requestsTo('GET', '/generations')).toHaveLength(1);
    expect(fake.runs.size).toBe(1);
  });

  it('ignores a run of another model that a neighbour started in the project while our start was in flight', async () => {
    const neighbourConn = await open({ env: {} });
    const c = await open({ env: {} });
    let neighbourRun: string | undefined;
    // Our first attempt has reached FLORA; before FLORA creates our run, a neighbour (another
    // server, so nothing marks its run as known here) starts a video in the same project.
    loseNextAnswer(async () => {
      const other = success(
        await neighbourConn.call('start_generation_run', { ...VALID_START, type: 'video', model: 't2v-kling-2' }),
      );
      neighbourRun = other.run_id as string;
    });

    const out = success(await c.call('start_generation_run', { ...START }));

    const ours = runOfKey(sentKey());
    expect(neighbourRun).toBeDefined();
    expect(fake.runs.get(neighbourRun!)).toMatchObject({ project_id: START.project_id, model_id: 't2v-kling-2' });
    expect(fake.runs.get(neighbourRun!)!.created_at).toBeGreaterThanOrEqual(fake.requestsTo('POST', '/generate')[0]!.at);
    expect(out).toMatchObject({ run_id: ours.run_id, recovered: true, model: { model_id: START.model } });
    expect(out.run_id).not.toBe(neighbourRun);
    expect(fake.runs.size).toBe(2);
  });

  it('ignores a run of the same model started a minute before the call, beyond any clock skew', async () => {
    const earlier = decoyRun('run_aminuteago', { created_at: Date.now() - 60_000 });
    fake.runs.set(earlier.run_id, earlier);
    loseNextAnswer();
    const c = await open();

    const out = success(await c.call('start_generation_run', { ...START }));

    const ours = runOfKey(sentKey());
    expect(out).toMatchObject({ run_id: ours.run_id, recovered: true });
    // FLORA listed both; only the age told them apart.
    expect(fake.requestsTo('GET', '/generations')).toHaveLength(1);
    expect(fake.runs.size).toBe(2);
  });

  it('finds its run behind 30 newer runs of the project (a batch of 20 and more besides): the page holds 100', async () => {
    const place = { project_id: START.project_id, workspace_id: START.workspace_id };
    const newer = Array.from({ length: 30 }, (_, i) => ({
      ...listed(`run_video${i}`, place),
      model: { model_id: 't2v-kling-2' },
    }));
    // As FLORA lists them: newest first, at most `limit` of them.
    fake.route('GET /generations', async (req, res, ctx) => {
      const reply = (await listingAlso(newer)(req, res, ctx)) as { status: number; body: { generations: unknown[] } };
      return { ...reply, body: { ...reply.body, generations: reply.body.generations.slice(0, Number(req.query.limit)) } };
    });
    loseNextAnswer();
    const c = await open();

    const out = success(await c.call('start_generation_run', { ...START }));

    const ours = runOfKey(sentKey());
    expect(out).toMatchObject({ run_id: ours.run_id, recovered: true });
    expect(fake.requestsTo('GET', '/generations')[0]!.query.limit).toBe('100');
    expect(fake.runs.size).toBe(1);
  });

  it('refuses to take a lone candidate from a full page of newer runs: ours may have been pushed off it', async () => {
    const place = { project_id: START.project_id, workspace_id: START.workspace_id };
    // What a busy project lists a few seconds later: a full page of runs newer than our start,
    // all but one of another model, and ours no longer on it.
    const page = Array.from({ length: LOOKBACK_LIMIT }, (_, i) =>
      i === 0 ? listed('run_neighbour', place) : { ...listed(`run_video${i}`, place), model: { model_id: 't2v-kling-2' } },
    );
    fake.route('GET /generations', () => ({ status: 200, body: { generations: page, meta: { next_cursor: 'more' } } }));
    loseNextAnswer();
    const c = await open();

    const error = failure(await c.call('start_generation_run', { ...START }));

    const key = sentKey();
    expect(error).toMatchObject({ code: 'idempotency_duplicate', retryable: false, idempotency_key: key });
    expect(error.message).toContain(`it may be off the newest ${LOOKBACK_LIMIT} listed`);
    expect(error.message).toContain('Do not start the generation again');
    expect(fake.requestsTo('GET', '/generations')[0]!.query.limit).toBe(String(LOOKBACK_LIMIT));
    expect(fake.requestsTo('POST', '/generate')).toHaveLength(2);
    expect(fake.runs.size).toBe(1);
  });

  it('still counts a run created a few seconds before the call (clocks differ), so it refuses to guess', async () => {
    const skewed = decoyRun('run_skewed', { created_at: Date.now() - 5_000 });
    fake.runs.set(skewed.run_id, skewed);
    loseNextAnswer();
    const c = await open();

    const error = failure(await c.call('start_generation_run', { ...START }));

    const key = sentKey();
    const ours = runOfKey(key);
    expect(error).toMatchObject({ code: 'idempotency_duplicate', retryable: false, idempotency_key: key });
    expect(error.message).toContain('could not be identified unambiguously');
    expect(error.message).toContain(ours.run_id);
    expect(error.message).toContain(skewed.run_id);
    expect(fake.runs.size).toBe(2);
  });
});

describe('the clock-skew window', () => {
  it('is 30 s before the first attempt, inclusive: a run created exactly then counts, one a millisecond older does not', () => {
    const firstAttemptAt = 1_800_000_000_000;
    const run = (run_id: string, created_at: number) => ({ run_id, status: 'running', created_at });
    const recent = [run('run_at_bound', firstAttemptAt - 30_000), run('run_older', firstAttemptAt - 30_001)];

    const picked = pickLostRun(
      recent,
      firstAttemptAt,
      () => false,
      () => true,
    );

    expect(picked.map((r) => r.run_id)).toEqual(['run_at_bound']);
  });
});

describe('when recovery cannot name the run', () => {
  it('says the history lookup failed too, with why, and still that the run is not to be started again', async () => {
    fake.route('GET /generations', () => floraError(500, 'unknown_error', 'History unavailable.'));
    loseNextAnswer();
    const c = await open();

    const error = failure(await c.call('start_generation_run', { ...START }));

    expect(error).toMatchObject({ code: 'idempotency_duplicate', retryable: false, idempotency_key: sentKey() });
    expect(error.message).toMatch(
      /Find it in the project's recent generations\. Looking the run up in the project's recent generations failed too \(unknown_error\)\.$/,
    );
    expect(fake.runs.size).toBe(1);
  });

  it('says none matched yet and where to look later when the history does not list it', async () => {
    fake.route('GET /generations', () => ({ status: 200, body: { generations: [], meta: { next_cursor: null } } }));
    loseNextAnswer();
    const c = await open();

    const error = failure(await c.call('start_generation_run', { ...START }));

    expect(error.code).toBe('idempotency_duplicate');
    expect(error.message).toMatch(
      /It could not be identified unambiguously in the project's recent generations: none matched yet; look again in the project's recent generations later\. Do not start the generation again\.$/,
    );
    expect(fake.runs.size).toBe(1);
  });

  it('lists every candidate with its status and age, separated, for the user to choose', async () => {
    const colleague = decoyRun('run_colleague', { created_at: Date.now() - 1_000 });
    fake.runs.set(colleague.run_id, colleague);
    loseNextAnswer();
    const c = await open();

    const error = failure(await c.call('start_generation_run', { ...START }));

    const ours = runOfKey(sentKey());
    expect(error.message).toContain(
      `candidates ${ours.run_id} (completed, created_at ${ours.created_at}), ${colleague.run_id} (completed, created_at ${colleague.created_at}). Ask the user which one it is, or poll each with poll_run.`,
    );
  });
});

describe('which failed starts count as lost', () => {
  it('a 200 (not only a 201) whose body cannot be read: the run is looked up and found', async () => {
    fake.once('POST /generate', (_req, _res, ctx) => {
      ctx.defaultReply();
      return faults.truncated(200)(_req, _res, ctx) as ReturnType<Handler>;
    });
    const c = await open();

    const out = success(await c.call('start_generation_run', { ...START }));

    expect(out).toMatchObject({ run_id: runOfKey(sentKey()).run_id, recovered: true });
    expect(fake.requestsTo('POST', '/generate')).toHaveLength(1);
  });

  it('a 300 is a redirect, not a lost answer: nothing is looked up and the agent is told to check FLORA_BASE_URL', async () => {
    fake.route('POST /generate', () => ({ status: 300, body: '' }));
    const c = await open();

    const error = failure(await c.call('start_generation_run', { ...START }));

    expect(error).toMatchObject({ code: 'upstream_error', status: 300 });
    expect(error.message).toContain('Check FLORA_BASE_URL');
    expect(fake.requestsTo('GET', '/generations')).toHaveLength(0);
  });
});

/**
 * Long-running generations: waits bounded by wait_seconds with progress notifications, the
 * polling schedule, cancellation, outputs as resource links, failed runs, and recovery of a
 * start whose answer was lost. Runs last as long as the fake's runPlan says.
 */
import type { CallToolResult, ContentBlock } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { RunMemory } from '../../src/flora/run-memory.js';
import { createLogger, makeRedactor } from '../../src/log.js';
import { nextPollDelayMs } from '../../src/tools/runs/schedule.js';
import { estimatedStart, type FakeFlora, floraError } from '../helpers/fake-flora.js';
import { failure, success, useConnections, VALID_START } from '../helpers/harness.js';

let fake: FakeFlora;

const { open } = useConnections((f) => (fake = f));

function runPolls(runId: string): number {
  return fake.requests.filter((r) => r.method === 'GET' && r.path === `/runs/${runId}`).length;
}

/** Starts the next call's run in FLORA, then drops the connection before the answer. */
function loseNextAnswer(): void {
  fake.once('POST /generate', (_req, res, ctx) => {
    ctx.defaultReply();
    res.socket?.resetAndDestroy();
  });
}

/** Calls a tool with a progressToken; the notifications the client's onprogress got. */
async function callWithProgress(
  name: string,
  args: Record<string, unknown>,
): Promise<{ result: CallToolResult; events: Array<{ progress: number; total?: number; message?: string }> }> {
  const c = await open();
  const events: Array<{ progress: number; total?: number; message?: string }> = [];
  const result = (await c.client.callTool({ name, arguments: args }, undefined, {
    onprogress: (p) => events.push(p),
  })) as CallToolResult;
  return { result, events };
}

describe('waiting in one call', () => {
  it('start_generation_run with wait_seconds returns the finished run, polling a few times', async () => {
    fake.runPlan = { durationMs: 2_000 };
    const c = await open();
    const result = await c.call('start_generation_run', { ...VALID_START, wait_seconds: 20 });
    const out = success(result, 1);
    const run = out.run as Record<string, unknown>;

    expect(fake.requestsTo('POST', '/generate')).toHaveLength(1);
    expect(run).toMatchObject({ run_id: out.run_id, status: 'completed', done: true, progress: 100 });
    expect(out.summary).toContain(`Started run ${out.run_id as string}`);
    expect(out.summary).toContain('quoted');
    expect(out.summary).toContain('completed with 1 output(s)');
    // A 2 s run with a 2 s estimate: the first poll lands at its end.
    expect(runPolls(out.run_id as string)).toBeLessThanOrEqual(2);
    expect(result.content[1]).toMatchObject({ type: 'resource_link', mimeType: 'image/png' });
  });

  it('poll_run with wait_seconds waits for a run started earlier', async () => {
    fake.runPlan = { durationMs: 1_500 };
    const c = await open();
    const started = success(await c.call('start_generation_run', { ...VALID_START }));
    const out = success(await c.call('poll_run', { run_id: started.run_id, wait_seconds: 20 }), 1);
    expect(out).toMatchObject({ status: 'completed', done: true });
    expect(out).not.toHaveProperty('next_poll_seconds');
    expect(runPolls(started.run_id as string)).toBeGreaterThanOrEqual(2);
  });

  it('a wait that ends first is not an error: it says so and suggests when to poll again', async () => {
    fake.runPlan = { durationMs: 60_000 };
    const c = await open();
    const t0 = Date.now();
    const result = await c.call('start_generation_run', { ...VALID_START, wait_seconds: 1.5 });
    const elapsed = Date.now() - t0;
    const out = success(result);
    const run = out.run as Record<string, unknown>;

    expect(result.isError).toBeUndefined();
    expect(elapsed).toBeGreaterThanOrEqual(1_400);
    expect(run.done).toBe(false);
    expect(['pending', 'running']).toContain(run.status);
    expect(run.next_poll_seconds).toBeGreaterThan(30);
    expect(run.next_poll_seconds).toBeLessThanOrEqual(60);
    expect(out.summary).toContain('Still going');
    expect(out.summary).toContain('call poll_run again');
    expect(fake.runs.size).toBe(1);
  });

  it('a wait ends at wait_seconds, not a poll later: two checks of a queued run in 2 s', async () => {
    // Nothing tells when this run will end (unknown to this server, no progress), so the wait
    // polls at FLORA's 2 s: at once, then at the 2 s deadline, and stops there. A wait that ran
    // even 1 s longer would check a third time.
    fake.route('GET /runs/:id', () => ({
      status: 200,
      body: { run_id: 'run_queued', status: 'pending', progress: 0, created_at: Date.now() },
    }));
    const c = await open();
    const t0 = Date.now();
    const out = success(await c.call('poll_run', { run_id: 'run_queued', wait_seconds: 2 }));

    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_900);
    expect(out).toMatchObject({ status: 'pending', done: false });
    expect(out.summary).toContain('Still going');
    expect(runPolls('run_queued')).toBe(2);
  });

  it('a wait shorter than the schedule still checks the run once before answering', async () => {
    // The run is done at once, but the start only knows it as pending: 0.2 s is enough for one look.
    fake.runPlan = { durationMs: 0 };
    const c = await open();
    const out = success(await c.call('start_generation_run', { ...VALID_START, wait_seconds: 0.2 }), 1);
    expect(out.run).toMatchObject({ status: 'completed', done: true });
    expect(runPolls(out.run_id as string)).toBe(1);
  });

  it('poll_run without wait_seconds polls once and suggests when to look again', async () => {
    fake.runPlan = { durationMs: 30_000 };
    const c = await open();
    const started = success(await c.call('start_generation_run', { ...VALID_START }));
    fake.requests.length = 0;
    const out = success(await c.call('poll_run', { run_id: started.run_id }));
    expect(fake.requests).toHaveLength(1);
    expect(out.done).toBe(false);
    // The server remembers the start's estimate (30 s).
    expect(out.next_poll_seconds).toBeGreaterThan(20);
  });

  it('refuses a wait longer than the configured maximum, and the maximum follows FLORA_MAX_WAIT_SECONDS', async () => {
    const c = await open({ env: { FLORA_MAX_WAIT_SECONDS: '5' } });
    const error = failure(await c.call('poll_run', { run_id: 'run_x', wait_seconds: 6 }));
    expect(error.code).toBe('invalid_arguments');
    expect(error.fields?.[0]?.field).toBe('wait_seconds');
    expect(fake.requests).toHaveLength(0);
    const { tools } = await c.client.listTools();
    for (const name of ['poll_run', 'start_generation_run']) {
      const listed = tools.find((t) => t.name === name)!;
      const wait = (listed.inputSchema.properties as Record<string, { minimum: number; maximum: number }>).wait_seconds!;
      expect([wait.minimum, wait.maximum], name).toEqual([0, 5]);
    }
  });

  it('keeps the started run when checking it fails during the wait', async () => {
    fake.runPlan = { durationMs: 2_000 };
    fake.route('GET /runs/:id', () => floraError(404, 'not_found', 'Run not found.'));
    const c = await open();
    const out = success(await c.call('start_generation_run', { ...VALID_START, wait_seconds: 10 }));
    const run = out.run as Record<string, unknown>;

    expect(out.run_id).toMatch(/^run_/);
    expect(fake.runs.has(out.run_id as string)).toBe(true);
    expect(run.poll_error).toMatchObject({ code: 'not_found' });
    expect(run.done).toBe(false);
    expect(out.summary).toContain('Checking the run failed');
    expect(runPolls(out.run_id as string)).toBe(1);
  });
});

describe('progress notifications', () => {
  it("reach the client's onprogress from FLORA's progress, with status and time left", async () => {
    // FLORA under-estimates (1 s for a 3 s run), so a poll lands mid-run and reports it.
    fake.runPlan = { durationMs: 3_000 };
    fake.route('POST /generate', estimatedStart(1));
    const { result, events } = await callWithProgress('start_generation_run', { ...VALID_START, wait_seconds: 20 });

    expect((success(result, 1).run as Record<string, unknown>).status).toBe('completed');
    expect(events[0]).toMatchObject({ progress: 0, total: 100 });
    expect(events[0]!.message).toContain('pending');
    expect(events.at(-1)).toMatchObject({ progress: 100, total: 100, message: 'completed, 100%' });
    const middle = events.slice(1, -1);
    expect(middle.length).toBeGreaterThanOrEqual(1);
    for (const e of middle) {
      expect(e).toMatchObject({ total: 100 });
      expect(e.progress).toBeGreaterThan(0);
      expect(e.progress).toBeLessThan(100);
      expect(e.message).toMatch(new RegExp(`^running, ${Math.round(e.progress)}%, about \\d+ s left$`));
    }
  });

  it('say no time left once a run is overdue, rather than a time already past', async () => {
    // FLORA estimated 1 s for a 60 s run: the poll after 1 s finds it still pending, overdue.
    fake.runPlan = { durationMs: 60_000 };
    fake.route('POST /generate', estimatedStart(1));
    const { result, events } = await callWithProgress('start_generation_run', { ...VALID_START, wait_seconds: 1.5 });

    expect(success(result).run).toMatchObject({ status: 'pending', done: false });
    const polled = events.slice(1);
    expect(polled.length).toBeGreaterThanOrEqual(1);
    for (const e of polled) expect(e.message).toMatch(/^pending, \d+%$/);
  });

  it("never go down nor repeat, even when FLORA's progress does", async () => {
    // 90 %, 90 % again and then 80 %, each a poll (at least 1 s, past the throttle) later, then done.
    const createdAt = Date.now() - 500;
    const view = (status: string, progress: number) => () => ({
      status: 200,
      body: { run_id: 'run_wobbly', status, progress, created_at: createdAt, ...(status === 'completed' ? { outputs: [] } : {}) },
    });
    fake.once('GET /runs/:id', view('running', 90));
    fake.once('GET /runs/:id', view('running', 90));
    fake.once('GET /runs/:id', view('running', 80));
    fake.once('GET /runs/:id', view('completed', 100));
    const { result, events } = await callWithProgress('poll_run', { run_id: 'run_wobbly', wait_seconds: 10 });

    expect(success(result)).toMatchObject({ status: 'completed', done: true });
    expect(runPolls('run_wobbly')).toBe(4);
    expect(events.map((e) => e.progress)).toEqual([90, 100]);
    expect(events.at(-1)).toMatchObject({ progress: 100, total: 100, message: 'completed, 100%' });
  });

  it('end with 100 even when it follows the previous one at once (a recovered run already finished)', async () => {
    fake.runPlan = { durationMs: 0 };
    loseNextAnswer();
    const { result, events } = await callWithProgress('start_generation_run', {
      ...VALID_START,
      model: 't2i-flux-2-pro',
      wait_seconds: 10,
    });

    const out = success(result, 1);
    expect(out).toMatchObject({ recovered: true, run: { status: 'completed', done: true } });
    // The recovered run is polled at once: its 100 comes right after the start's 0.
    expect(runPolls(out.run_id as string)).toBe(1);
    expect(events.map((e) => e.progress)).toEqual([0, 100]);
    expect(events.at(-1)).toMatchObject({ total: 100, message: 'completed, 100%' });
  });

  it('are thinned to about one a second: a value right after the previous one is not sent', async () => {
    // A recovered run is polled at once; that poll says 50 % a request after the start's 0.
    fake.runPlan = { durationMs: 1_000 };
    loseNextAnswer();
    fake.once('GET /runs/:id', (_req, _res, ctx) => {
      const reply = ctx.defaultReply();
      return { ...reply, body: { ...(reply.body as object), status: 'running', progress: 50 } };
    });
    const { result, events } = await callWithProgress('start_generation_run', {
      ...VALID_START,
      model: 't2i-flux-2-pro',
      wait_seconds: 10,
    });

    const out = success(result, 1);
    expect(out).toMatchObject({ recovered: true, run: { status: 'completed' } });
    expect(runPolls(out.run_id as string)).toBeGreaterThanOrEqual(2);
    expect(events.map((e) => e.progress)).toEqual([0, 100]);
  });

  it('are not sent when the caller asked for none', async () => {
    fake.runPlan = { durationMs: 1_200 };
    const c = await open();
    let notified = 0;
    c.client.fallbackNotificationHandler = async () => {
      notified++;
    };
    success(await c.call('start_generation_run', { ...VALID_START, wait_seconds: 10 }), 1);
    expect(notified).toBe(0);
  });
});

describe('cancellation', () => {
  it('stops the wait at once: no request reaches FLORA after the cancel', async () => {
    // FLORA's estimate (1 s) is far too short, so the wait polls about every second once it is overdue.
    fake.runPlan = { durationMs: 60_000 };
    fake.route('POST /generate', estimatedStart(1));
    const c = await open();
    const controller = new AbortController();
    const call = c.client.callTool({ name: 'start_generation_run', arguments: { ...VALID_START, wait_seconds: 40 } }, undefined, {
      signal: controller.signal,
    });
    await new Promise((r) => setTimeout(r, 1_200));
    const cancelledAt = Date.now();
    controller.abort('user cancelled');
    await expect(call).rejects.toThrow();
    const settledAt = Date.now();
    expect(settledAt - cancelledAt).toBeLessThan(500);

    // Long enough for two more polls had the wait gone on (about 1 s apart once overdue).
    await new Promise((r) => setTimeout(r, 2_300));
    expect(fake.requests.filter((r) => r.at > cancelledAt + 100)).toEqual([]);
    expect(fake.runs.size).toBe(1);
  });

  it('aborts a request in flight', async () => {
    let aborted: () => void = () => {};
    const connectionClosed = new Promise<void>((resolve) => (aborted = resolve));
    fake.route('GET /runs/:id', (_req, res) => {
      // FLORA never answers; the client's cancel must close the request rather than wait out its timeout (30 s).
      res.on('close', aborted);
      return new Promise<void>(() => {});
    });
    const c = await open();
    const controller = new AbortController();
    const call = c.client.callTool({ name: 'poll_run', arguments: { run_id: 'run_hung', wait_seconds: 10 } }, undefined, {
      signal: controller.signal,
    });
    await new Promise((r) => setTimeout(r, 300));
    controller.abort('user cancelled');
    await expect(call).rejects.toThrow();
    await connectionClosed;
    await new Promise((r) => setTimeout(r, 1_500));
    expect(fake.requests).toHaveLength(1);
  });
});

describe('cancellation while a start waits', () => {
  it('logs that the run was started and keeps running, when the cancel lands during a poll', async () => {
    const lines: string[] = [];
    const logger = createLogger('warn', makeRedactor(undefined), (line) => lines.push(line));
    fake.runPlan = { durationMs: 0 };
    let polled: () => void = () => {};
    const polling = new Promise<void>((resolve) => (polled = resolve));
    fake.route('GET /runs/:id', () => {
      polled();
      return new Promise<void>(() => {}); // FLORA never answers this poll
    });
    const c = await open({ logger });
    const controller = new AbortController();
    const call = c.client.callTool({ name: 'start_generation_run', arguments: { ...VALID_START, wait_seconds: 30 } }, undefined, {
      signal: controller.signal,
    });
    await polling;
    controller.abort('user cancelled');
    await expect(call).rejects.toThrow();
    await c.mcp.idle();

    const [run] = [...fake.runs.values()];
    expect(lines).toContainEqual(
      expect.stringContaining(`call cancelled while waiting; run ${run!.run_id} was started and keeps running in FLORA`),
    );
  });
});

describe('failed runs', () => {
  it('are a normal result that leads with error_code and error_message and says a retry will not help', async () => {
    fake.runPlan = {
      durationMs: 500,
      fail: { code: 'GENERATION_PROMPT_MODERATED', message: 'The prompt was blocked by the content filter.' },
    };
    const c = await open();
    const started = success(await c.call('start_generation_run', { ...VALID_START }));
    const result = await c.call('poll_run', { run_id: started.run_id, wait_seconds: 10 });
    const out = success(result);

    expect(result.isError).toBeUndefined();
    expect(Object.keys(out).slice(0, 5)).toEqual(['summary', 'error_code', 'error_message', 'retry_may_help', 'retry_advice']);
    expect(out).toMatchObject({
      status: 'failed',
      done: true,
      progress: 100,
      error_code: 'GENERATION_PROMPT_MODERATED',
      error_message: 'The prompt was blocked by the content filter.',
      retry_may_help: false,
    });
    expect(out.summary).toMatch(/^Run run_\S+ failed: GENERATION_PROMPT_MODERATED: The prompt was blocked/);
    expect(out.retry_advice).toContain('change the prompt');
  });

  it('say a retry may help for a transient provider failure', async () => {
    fake.runPlan = { durationMs: 0, fail: { code: 'GPU_PROVIDER_ERROR', message: 'Provider unavailable' } };
    const c = await open();
    const out = success(await c.call('start_generation_run', { ...VALID_START, wait_seconds: 5 }));
    expect(out.run).toMatchObject({ status: 'failed', retry_may_help: true, error_code: 'GPU_PROVIDER_ERROR' });
    expect(out.summary).toContain('failed: GPU_PROVIDER_ERROR');
  });
});

describe('outputs', () => {
  const cases: Array<[string, string, string]> = [
    ['videoUrl', 'https://media.flora.ai/run_v/clip.mp4', 'video/mp4'],
    ['audioUrl', 'https://media.flora.ai/run_a/sound.mp3', 'audio/mpeg'],
    ['audioUrl', 'https://media.flora.ai/run_a/take.WAV', 'audio/wav'],
    ['imageUrl', 'https://media.flora.ai/run_i/still.webp', 'image/webp'],
    ['imageUrl', 'https://media.flora.ai/run_i/photo.jpeg?v=2', 'image/jpeg'],
    ['imageUrl', 'https://media.flora.ai/run_i/noext', 'image/png'],
    ['documentUrl', 'https://media.flora.ai/run_d/report.pdf', 'application/pdf'],
  ];

  it('become one resource_link per media output with its MIME type, and text outputs become text', async () => {
    fake.route('GET /runs/:id', () => ({
      status: 200,
      body: {
        run_id: 'run_many',
        status: 'completed',
        progress: 100,
        created_at: Date.now(),
        outputs: [
          ...cases.map(([type, url], i) => ({ output_id: `o${i}`, type, url })),
          { output_id: 'otext', type: 'text', url: 'A poem about mugs.' },
        ],
      },
    }));
    const c = await open();
    const result = await c.call('poll_run', { run_id: 'run_many' });
    const out = success(result, cases.length + 1);

    expect((out.outputs as unknown[]).length).toBe(cases.length + 1);
    const links = result.content.slice(1, 1 + cases.length) as Array<Extract<ContentBlock, { type: 'resource_link' }>>;
    links.forEach((link, i) => {
      const [type, url, mime] = cases[i]!;
      expect(link).toMatchObject({ type: 'resource_link', uri: url, mimeType: mime, title: `${type} ${i + 1}` });
      expect(link.name.length).toBeGreaterThan(0);
    });
    expect(result.content.at(-1)).toEqual({ type: 'text', text: 'A poem about mugs.' });
    // The URLs are also in the text the agent reads, and nothing is inlined as base64.
    for (const [, url] of cases) expect((result.content[0] as { text: string }).text).toContain(url);
    expect(result.content.some((b) => b.type === 'image' || b.type === 'audio')).toBe(false);
  });
});

describe('lost-answer recovery', () => {
  it('finds the run whose answer was lost: exactly one run exists and the agent gets its run_id', async () => {
    fake.runPlan = { durationMs: 1_000 };
    // The fake creates the run, then drops the connection before answering.
    fake.once('POST /generate', (_req, res, ctx) => {
      ctx.defaultReply();
      res.socket?.resetAndDestroy();
    });
    const c = await open();
    const out = success(await c.call('start_generation_run', { ...VALID_START, model: 't2i-flux-2-pro', wait_seconds: 10 }), 1);

    expect(fake.runs.size).toBe(1);
    const [run] = [...fake.runs.values()];
    expect(out).toMatchObject({ run_id: run!.run_id, recovered: true, project_id: 'prj_mugs' });
    expect(out.run).toMatchObject({ run_id: run!.run_id, status: 'completed' });
    const lookup = fake.requestsTo('GET', '/generations');
    expect(lookup).toHaveLength(1);
    expect(lookup[0]!.query).toMatchObject({ workspace_id: 'ws_studio', project_id: 'prj_mugs' });
    expect(Number(lookup[0]!.query.limit)).toBeGreaterThan(0);
    expect(fake.requestsTo('POST', '/generate')).toHaveLength(2);
  });

  it('recovers when FLORA answered 201 with a body that cannot be read', async () => {
    fake.once('POST /generate', (_req, _res, ctx) => {
      ctx.defaultReply();
      return { status: 201, headers: { 'content-type': 'application/json' }, body: '{"run_id":"run_' };
    });
    const c = await open();
    const out = success(await c.call('start_generation_run', { ...VALID_START }));
    expect(fake.runs.size).toBe(1);
    expect(out).toMatchObject({ run_id: [...fake.runs.keys()][0], recovered: true });
    expect(fake.requestsTo('POST', '/generate')).toHaveLength(1);
  });

  it('ignores older runs and runs of another model in the same project', async () => {
    const c = await open();
    success(await c.call('start_generation_run', { ...VALID_START, model: 't2i-flux-2-pro' }));
    const old = [...fake.runs.values()][0]!;
    old.created_at -= 10 * 60_000;
    const other = success(await c.call('start_generation_run', { ...VALID_START, type: 'video', model: 't2v-kling-2' }));

    loseNextAnswer();
    const out = success(await c.call('start_generation_run', { ...VALID_START, model: 't2i-flux-2-pro' }));
    const ours = [...fake.runs.values()].at(-1)!;
    expect(out).toMatchObject({ run_id: ours.run_id, recovered: true });
    expect([old.run_id, other.run_id]).not.toContain(out.run_id);
    expect(fake.runs.size).toBe(3);
    // Three starts with a model, one catalog lookup (cached), one POST each plus the lost one's retry.
    expect(fake.requestsTo('GET', '/models')).toHaveLength(1);
    expect(fake.requestsTo('POST', '/generate')).toHaveLength(4);
  });

  it('refuses to guess between two candidates: idempotency_duplicate listing them, no new run', async () => {
    // The neighbour is started by someone else (another server): nothing tells it apart.
    const other = await open({ env: {} });
    const neighbour = success(await other.call('start_generation_run', { ...VALID_START, model: 't2i-flux-2-pro' }));
    const c = await open({ env: {} });
    loseNextAnswer();
    const error = failure(await c.call('start_generation_run', { ...VALID_START, model: 't2i-flux-2-pro' }));
    const ours = [...fake.runs.values()].at(-1)!;

    expect(error.code).toBe('idempotency_duplicate');
    expect(error.retryable).toBe(false);
    expect(error.idempotency_key).toBe(fake.requestsTo('POST', '/generate').at(-1)!.headers['idempotency-key']);
    expect(error.message).toContain('could not be identified unambiguously');
    expect(error.message).toContain(neighbour.run_id as string);
    expect(error.message).toContain(ours.run_id);
    expect(error.message).toContain('Do not start the generation again');
    expect(fake.runs.size).toBe(2);
  });

  it('tells concurrent starts of one project apart: runs this server already answered are not candidates', async () => {
    const c = await open();
    const neighbour = success(await c.call('start_generation_run', { ...VALID_START, model: 't2i-flux-2-pro' }));
    loseNextAnswer();
    const out = success(await c.call('start_generation_run', { ...VALID_START, model: 't2i-flux-2-pro' }));
    const ours = [...fake.runs.values()].at(-1)!;
    expect(out).toMatchObject({ run_id: ours.run_id, recovered: true });
    expect(out.run_id).not.toBe(neighbour.run_id);
    expect(fake.runs.size).toBe(2);
  });
});

describe('polling schedule', () => {
  const memory = new RunMemory();
  const now = 1_800_000_000_000;
  const run = (progress: number, status = 'running') => ({ run_id: 'run_s', status, progress, created_at: now });

  it('waits for the estimate, within 1-5 s, and aims just after the expected end', () => {
    memory.remember('run_s', 6, now);
    expect(nextPollDelayMs(run(0, 'pending'), memory, now)).toBe(5_000);
    // 5 s in and 83 % done: about 1 s left.
    expect(nextPollDelayMs(run(83), memory, now + 5_000)).toBeGreaterThanOrEqual(1_000);
    expect(nextPollDelayMs(run(83), memory, now + 5_000)).toBeLessThan(1_200);
    memory.remember('run_s', 3, now);
    expect(nextPollDelayMs(run(0, 'pending'), memory, now)).toBeGreaterThanOrEqual(3_000);
    expect(nextPollDelayMs(run(0, 'pending'), memory, now)).toBeLessThan(3_100);
  });

  it('never polls more often than every 1 s nor less often than every 5 s', () => {
    memory.remember('run_s', 600, now);
    expect(nextPollDelayMs(run(1), memory, now + 1_000)).toBe(5_000);
    expect(nextPollDelayMs(run(99.5), memory, now + 100_000)).toBe(1_000);
    // Overdue (the estimate was wrong): back off gently from 1 s.
    memory.remember('run_s', 2, now);
    expect(nextPollDelayMs(run(0, 'pending'), memory, now + 2_500)).toBeGreaterThanOrEqual(1_000);
    expect(nextPollDelayMs(run(0, 'pending'), memory, now + 60_000)).toBe(5_000);
    // Nothing known at all: FLORA's documented 2 s.
    expect(nextPollDelayMs({ ...run(0, 'pending'), run_id: 'run_unknown', created_at: 0 }, memory, now)).toBe(2_000);
  });
});

/**
 * poll_run through the real SDK client: GET /api/v1/runs/<id> as FLORA receives it, the run's
 * state as the agent sees it, IDs that could change the URL refused before anything is sent, and
 * the API key kept on FLORA_BASE_URL's origin whatever FLORA answers.
 */
import { describe, expect, it } from 'vitest';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { FAKE_KEY, type FakeFlora, floraError, type RecordedRequest } from '../helpers/fake-flora.js';
import { failure, success, useConnections, VALID_START } from '../helpers/harness.js';

let fake: FakeFlora;

const { open } = useConnections((f) => (fake = f));

async function poll(runId: unknown): Promise<CallToolResult> {
  return (await open()).call('poll_run', { run_id: runId });
}

/** Start a run through the tool and forget the start request, so each test sees only its polls. */
async function startRun(args: Record<string, unknown> = { ...VALID_START }): Promise<string> {
  const result = await (await open()).call('start_generation_run', args);
  const runId = success(result).run_id as string;
  fake.requests.length = 0;
  return runId;
}

function expectRunRequest(req: RecordedRequest, runId: string): void {
  expect(req.method).toBe('GET');
  expect(req.rawPath).toBe(`/api/v1/runs/${runId}`);
  expect(req.path).toBe(`/runs/${runId}`);
  expect(req.query).toEqual({});
  expect(req.headers.host).toBe(new URL(fake.origin).host);
  expect(req.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
  expect(req.headers).not.toHaveProperty('idempotency-key');
  expect(req.rawBody).toBe('');
}

describe('poll_run: run states', () => {
  it('shows a completed run with its outputs', async () => {
    const runId = await startRun();
    const result = await poll(runId);
    const out = success(result, 1);

    expect(fake.requests).toHaveLength(1);
    expectRunRequest(fake.requests[0]!, runId);
    const run = fake.runs.get(runId)!;
    expect(out).toEqual({
      summary: `Run ${runId} completed with 1 output(s) (imageUrl). Media URLs are public links; text outputs hold the text itself.`,
      done: true,
      run_id: runId,
      status: 'completed',
      progress: 100,
      created_at: run.created_at,
      started_at: run.created_at,
      completed_at: run.created_at,
      charged_cost: 0.04,
      poll_url: `${fake.baseUrl}/runs/${runId}`,
      outputs: [{ output_id: `out_${runId.slice(4)}_0`, type: 'imageUrl', url: `https://media.flora.ai/${runId}/0.png` }],
    });
    expect(out).not.toHaveProperty('error_code');
    expect(result.content[1]).toEqual({
      type: 'resource_link',
      uri: `https://media.flora.ai/${runId}/0.png`,
      name: '0.png',
      title: 'imageUrl 1',
      mimeType: 'image/png',
      description: 'Generated image (public link).',
    });
  });

  it('shows a text run with the generated text in outputs', async () => {
    const runId = await startRun({ ...VALID_START, type: 'text', prompt: 'a haiku about mugs' });
    const result = await poll(runId);
    const out = success(result, 1);
    expect(result.content[1]).toEqual({ type: 'text', text: 'Generated text for: a haiku about mugs' });
    expect(out.status).toBe('completed');
    expect(out.outputs).toEqual([
      { output_id: `out_${runId.slice(4)}_0`, type: 'text', url: 'Generated text for: a haiku about mugs' },
    ]);
  });

  it('shows a run still in progress as pending or running, with progress and no outputs', async () => {
    fake.runPlan = { durationMs: 60_000 };
    const runId = await startRun();
    const out = success(await poll(runId));

    expectRunRequest(fake.requests[0]!, runId);
    expect(['pending', 'running']).toContain(out.status);
    expect(out.progress).toEqual(expect.any(Number));
    expect(out.progress as number).toBeGreaterThanOrEqual(0);
    expect(out.progress as number).toBeLessThan(100);
    expect(out).not.toHaveProperty('outputs');
    expect(out).not.toHaveProperty('completed_at');
    expect(out).not.toHaveProperty('error_code');
  });

  it('shows a run half-way through as running with its progress', async () => {
    fake.runPlan = { durationMs: 60_000 };
    const runId = await startRun();
    fake.runs.get(runId)!.created_at -= 30_000;
    const out = success(await poll(runId));

    expect(out.status).toBe('running');
    expect(out.progress as number).toBeGreaterThanOrEqual(50);
    expect(out.progress as number).toBeLessThan(100);
    expect(out.started_at).toEqual(expect.any(Number));
    expect(out).not.toHaveProperty('outputs');
  });

  it('shows a failed run as a normal result with status failed, error_code and error_message', async () => {
    fake.runPlan = {
      durationMs: 0,
      fail: { code: 'GENERATION_PROMPT_MODERATED', message: 'The prompt was blocked by the content filter.' },
    };
    const runId = await startRun();
    const result = await poll(runId);
    const out = success(result);

    expect(result.isError ?? false).toBe(false);
    expectRunRequest(fake.requests[0]!, runId);
    expect(out).toMatchObject({
      run_id: runId,
      status: 'failed',
      progress: 100,
      error_code: 'GENERATION_PROMPT_MODERATED',
      error_message: 'The prompt was blocked by the content filter.',
    });
    expect(out).not.toHaveProperty('outputs');
  });

  it('answers not_found for a run FLORA does not know', async () => {
    const error = failure(await poll('run_doesnotexist'));

    expect(error).toMatchObject({ code: 'not_found', status: 404, retryable: false });
    expect(error.message).toContain('Run not found.');
    expect(error.message).toContain('Check the ID');
    expect(fake.requests).toHaveLength(1);
    expectRunRequest(fake.requests[0]!, 'run_doesnotexist');
  });

  it('points to technique_id only when the run was not found: a refusal is told as FLORA said it', async () => {
    fake.route('GET /runs/:id', () => floraError(403, 'forbidden', 'This key may not read that run.'));
    const error = failure(await poll('run_abc123'));

    expect(error).toMatchObject({ code: 'forbidden', status: 403 });
    expect(error.message).toMatch(/^This key may not read that run\./);
    expect(error.message).not.toContain('technique');
  });
});

describe('poll_run: run IDs that could change the URL are refused before anything is sent', () => {
  it.each(['run_a/../b', 'run_a?x=1', 'run_a#b', 'run_%2e%2e', 'run_a b', '../runs', 'run_a..b', 'run_a\\b', 'run_', 'abc'])(
    'refuses %j',
    async (runId) => {
      const error = failure(await poll(runId));
      expect(error.code).toBe('invalid_arguments');
      expect(error.retryable).toBe(false);
      expect(error.fields?.map((f) => f.field)).toEqual(['run_id']);
      expect(error.fields?.[0]?.message).toContain('run_');
      expect(error.message).toContain('nothing was sent to FLORA');
      expect(fake.requests).toHaveLength(0);
    },
  );

  it.each([
    ['a missing run_id', {}],
    ['a run_id that is not a string', { run_id: 42 }],
  ])('refuses %s', async (_label, args) => {
    const error = failure(await (await open()).call('poll_run', args));
    expect(error.code).toBe('invalid_arguments');
    expect(error.fields?.map((f) => f.field)).toEqual(['run_id']);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('poll_run: the API key stays on FLORA_BASE_URL', () => {
  it('never follows a poll_url pointing at another host', async () => {
    const runId = await startRun();
    fake.route('GET /runs/:id', (_req, _res, ctx) => {
      const reply = ctx.defaultReply();
      return { ...reply, body: { ...(reply.body as object), poll_url: 'http://127.0.0.1:1/evil' } };
    });

    const first = success(await poll(runId), 1);
    const second = success(await poll(runId), 1);

    expect(first.poll_url).toBe('http://127.0.0.1:1/evil');
    expect(second.status).toBe('completed');
    expect(fake.requests).toHaveLength(2);
    for (const req of fake.requests) expectRunRequest(req, runId);
  });

  it('does not follow a redirect to another host and says so', async () => {
    fake.route('GET /runs/:id', () => ({ status: 302, headers: { location: 'http://127.0.0.1:1/evil' } }));
    const error = failure(await poll('run_abc'));

    expect(error.code).toBe('upstream_error');
    expect(error.status).toBe(302);
    expect(error.message).toContain('http://127.0.0.1:1/evil');
    expect(error.message).toContain('not followed');
    expect(fake.requests).toHaveLength(1);
    expectRunRequest(fake.requests[0]!, 'run_abc');
  });
});

/**
 * Progress and cancellation in Streamable HTTP mode, through the SDK's own Streamable HTTP client:
 * a call that asks for progress is answered as an SSE stream carrying its notifications, one that
 * does not in plain JSON; a client that goes away, or cancels from another request with the same
 * key, stops the wait and its polling of FLORA; another key's cancel, or one whose id two calls
 * share, stops nothing. The server's "<tool> -> cancelled" log line is the signal that a call has
 * ended: after it, the call can send FLORA nothing more.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { beforeEach, describe, expect, it } from 'vitest';
import { REQUEST_CANCELLED } from '../../src/http.js';
import { FAKE_KEY, type FakeFlora } from '../helpers/fake-flora.js';
import { success, VALID_START } from '../helpers/harness.js';
import { useHttpMode } from '../helpers/http-mode.js';

let fake: FakeFlora;
const { start, connect, server, logged, logLine } = useHttpMode((f) => (fake = f));

const AUTH = { Authorization: `Bearer ${FAKE_KEY}` };
const CANCELLED = 'start_generation_run -> cancelled';

/** One HTTP exchange the client made: its JSON-RPC body, recorded as it is sent, and the answer. */
interface Exchange {
  sent: { id?: number | string; method?: string };
  answer: Promise<{
    status: number;
    contentType: string | null;
    /** The whole answer, once it has ended (an SSE stream included). */
    text: Promise<string>;
  }>;
}

/** A fetch for the client transport that records every POST it makes. */
function recordingFetch(): { fetch: typeof fetch; callOf(method: string): Exchange } {
  const exchanges: Exchange[] = [];
  const recorder: typeof fetch = (input, init) => {
    const res = fetch(input, init);
    if (init?.method === 'POST') {
      const answer = res.then((r) => ({
        status: r.status,
        contentType: r.headers.get('content-type'),
        text: r
          .clone()
          .text()
          .catch(() => ''),
      }));
      answer.catch(() => {}); // a closed client's fetch fails; tests that read it await it
      exchanges.push({ sent: JSON.parse(String(init.body)), answer });
    }
    return res;
  };
  const callOf = (method: string) => {
    const found = exchanges.filter((e) => e.sent.method === method);
    expect(found).toHaveLength(1);
    return found[0]!;
  };
  return { fetch: recorder, callOf };
}

/** FLORA estimates every run at 1 s, so a wait polls after about 1 s. */
function estimateOneSecond(): void {
  fake.route('POST /generate', (_req, _res, ctx) => {
    const reply = ctx.defaultReply();
    return { ...reply, body: { ...(reply.body as object), estimated_seconds: 1 } };
  });
}

function polls(): number {
  return fake.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/runs/')).length;
}

/**
 * Holds every poll of a run in FLORA until `release()`: `polled(n)` resolves once n polls have
 * arrived, so a test acts while the wait is mid-request, where it is deterministic.
 */
function holdPolls(): { polled(n?: number): Promise<void>; release(): void } {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  let seen = 0;
  fake.route('GET /runs/:id', async (_req, _res, ctx) => {
    seen++;
    for (const w of waiters.filter((w) => seen >= w.n)) w.resolve();
    await released;
    return ctx.defaultReply();
  });
  return {
    polled: (n = 1) => (seen >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    release,
  };
}

const MODES = [
  { mode: 'an SSE stream (progress asked for)', progress: true },
  { mode: 'plain JSON (no progress asked for)', progress: false },
];

/** start_generation_run that waits, with a progressToken when `progress`; the call's promise. */
function startAndWait(client: Client, progress: boolean, signal?: AbortSignal): Promise<CallToolResult> {
  const call = client.callTool({ name: 'start_generation_run', arguments: { ...VALID_START, wait_seconds: 40 } }, undefined, {
    ...(progress && { onprogress: () => {} }),
    ...(signal && { signal }),
  }) as Promise<CallToolResult>;
  call.catch(() => {}); // the tests that expect a rejection await it themselves
  return call;
}

beforeEach(estimateOneSecond);

describe('progress over Streamable HTTP', { timeout: 20_000 }, () => {
  it('reaches a client that asks for it, on an SSE stream, during a 4 s wait', async () => {
    // FLORA under-estimates (1 s for a 4 s run), so a poll lands mid-run and reports it.
    fake.runPlan = { durationMs: 4_000 };
    await start();
    const rec = recordingFetch();
    const client = await connect(AUTH, rec.fetch);
    const events: Array<{ progress: number; total?: number; message?: string }> = [];
    const result = (await client.callTool(
      { name: 'start_generation_run', arguments: { ...VALID_START, wait_seconds: 20 } },
      undefined,
      {
        onprogress: (p) => events.push(p),
      },
    )) as CallToolResult;

    expect((success(result, 1).run as Record<string, unknown>).status).toBe('completed');
    expect((await rec.callOf('tools/call').answer).contentType).toBe('text/event-stream');
    expect(events[0]).toMatchObject({ progress: 0, total: 100 });
    expect(events.at(-1)).toMatchObject({ progress: 100, total: 100, message: 'completed, 100%' });
    const middle = events.slice(1, -1);
    expect(middle.length).toBeGreaterThanOrEqual(1);
    for (const e of middle) expect(e.message).toMatch(/^running, \d+%, about \d+ s left$/);
    const values = events.map((e) => e.progress);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(new Set(values).size).toBe(values.length);
  });

  it('keeps the plain JSON answer for a call that asks for none', async () => {
    fake.runPlan = { durationMs: 500 };
    await start();
    const rec = recordingFetch();
    const client = await connect(AUTH, rec.fetch);
    const result = (await client.callTool({
      name: 'start_generation_run',
      arguments: { ...VALID_START, wait_seconds: 20 },
    })) as CallToolResult;

    expect((success(result, 1).run as Record<string, unknown>).status).toBe('completed');
    expect((await rec.callOf('tools/call').answer).contentType).toBe('application/json');
  });
});

describe('cancellation over Streamable HTTP', { timeout: 15_000 }, () => {
  it.each(MODES)('a client that goes away mid-wait stops its polling of FLORA, answered as $mode', async ({ progress }) => {
    fake.runPlan = { durationMs: 60_000 };
    const held = holdPolls();
    await start();
    const client = await connect(AUTH);
    void startAndWait(client, progress);
    await held.polled();
    await client.close();
    await logLine(CANCELLED);
    held.release();

    // The call has ended: the one poll it made, which the close aborted, stays the only one.
    expect(polls()).toBe(1);
    expect(fake.requestsTo('POST', '/generate')).toHaveLength(1);
  });

  it.each(MODES)(
    'a same-key notifications/cancelled in another request stops the wait, answered as $mode',
    async ({ progress }) => {
      fake.runPlan = { durationMs: 60_000 };
      const held = holdPolls();
      await start();
      const rec = recordingFetch();
      const client = await connect(AUTH, rec.fetch);
      const controller = new AbortController();
      const call = startAndWait(client, progress, controller.signal);
      await held.polled();
      // The SDK client sends notifications/cancelled in a POST of its own, on a connection of its own.
      controller.abort('user cancelled');
      await expect(call).rejects.toThrow();
      await logLine(CANCELLED);
      held.release();

      expect(polls()).toBe(1);
      const cancel = rec.callOf('notifications/cancelled');
      expect((await cancel.answer).status).toBe(202);
      expect(cancel.sent).toMatchObject({ params: { requestId: rec.callOf('tools/call').sent.id, reason: 'user cancelled' } });
      // The cancelled call's own exchange was ended, not left open: with a "request cancelled" error.
      const original = await rec.callOf('tools/call').answer;
      expect(original.contentType).toBe(progress ? 'text/event-stream' : 'application/json');
      const ended = await original.text;
      expect(ended).toContain(`"code":${REQUEST_CANCELLED}`);
      expect(ended).toContain('Request cancelled: user cancelled');
      expect(logged()).toContain('its call is cancelled');
    },
  );

  it("never lets another key's cancel stop a call", async () => {
    const otherKey = 'flora-other-team-0c4e2b';
    fake.runPlan = { durationMs: 1_000 };
    const held = holdPolls();
    await start();
    const rec = recordingFetch();
    const client = await connect(AUTH, rec.fetch);
    const call = startAndWait(client, true);
    await held.polled();
    const id = rec.callOf('tools/call').sent.id;
    const res = await fetch(server().url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${otherKey}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'mine' } }),
    });
    expect(res.status).toBe(202);
    await logLine('no such call in flight');
    held.release();

    const run = success(await call, 1).run as Record<string, unknown>;
    expect(run).toMatchObject({ status: 'completed', done: true });
    expect(logged()).not.toContain(CANCELLED);
    expect(logged()).not.toContain(otherKey);
  });

  it('cancels neither of two same-key calls that share the request id named', async () => {
    // Two agents of one team, one key: each client numbers its requests from 0, so both first
    // calls carry the same id. A cancel naming it cannot tell them apart.
    fake.runPlan = { durationMs: 1_000 };
    const held = holdPolls();
    await start();
    const recA = recordingFetch();
    const recB = recordingFetch();
    const a = await connect(AUTH, recA.fetch);
    const b = await connect(AUTH, recB.fetch);
    const controller = new AbortController();
    const callA = startAndWait(a, true, controller.signal);
    const callB = startAndWait(b, true);
    await held.polled(2);
    expect(recA.callOf('tools/call').sent.id).toBe(recB.callOf('tools/call').sent.id);
    controller.abort('user cancelled');
    await expect(callA).rejects.toThrow();
    await logLine('several calls with this key use that id');
    held.release();

    const run = success(await callB, 1).run as Record<string, unknown>;
    expect(run).toMatchObject({ status: 'completed', done: true });
    expect(logged()).not.toContain(CANCELLED);
  });
});

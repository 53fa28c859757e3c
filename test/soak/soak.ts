/**
 * The soak: the built server driven over stdio through a long mixed run of tool calls (the five
 * generate tools and the two batch ones, sequential then concurrent, waits included) while about
 * 20 % of FLORA's answers are faults.
 * It checks what must hold whatever happens: the process lives and answers every call within its
 * bound, no call creates two runs, the key never leaks, and memory does not grow.
 *
 * Memory is judged by what V8 cannot size to the load: the server runs with a small fixed heap
 * (--max-old-space-size), so a leak ends in an out-of-memory crash while garbage is collected,
 * and its live heap (heap used right after a full GC, taken when no call is in flight) must not
 * grow between the end of the warm-up and the end of the run by more than the server's bounded
 * memories can hold. Resident memory is reported, not judged: it follows how V8 sizes its heap.
 * `npm run soak` runs 5,000 calls; the test suite runs a short version.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { FAKE_KEY, FakeFlora, faults, floraError, type Handler, type RecordedRequest } from '../helpers/fake-flora.js';
import { percentile, rssMiB } from '../helpers/measure.js';
import { BUNDLE } from '../helpers/paths.js';

export interface SoakOptions {
  calls: number;
  concurrency: number;
  faultRate?: number;
  seed?: number;
  /** More modules the server loads before its own code (the test's deliberate leak). */
  serverImports?: readonly string[];
}

export interface SoakReport {
  calls: number;
  answered: number;
  outcomes: Record<string, number>;
  faults: Record<string, number>;
  p50: number;
  p99: number;
  maxMs: number;
  /** Live heap (used right after a full GC, no call in flight) after the warm-up and at the end. */
  heapWarmMiB: number;
  heapEndMiB: number;
  rssWarmMiB: number;
  rssEndMiB: number;
  /** RSS after every tenth of the run. */
  rssTrace: number[];
  warmupCalls: number;
  runsCreated: number;
  startsAnswered: number;
  violations: string[];
  seconds: number;
}

/** Bound on one call: 3 attempts of FLORA_TIMEOUT_MS, backoff, the catalog lookup, a 3 s wait. */
const CALL_BOUND_MS = 30_000;
const BIN = BUNDLE;

/** Calls before the first live-heap reading: every tool and fault path has run, caches are filled. */
const WARMUP_CALLS = 100;
/**
 * The server's old space, about four times its live heap (11-12 MiB here): room for garbage and
 * eight calls in flight, none for a leak of more than a few KiB a call over a few thousand calls.
 */
const MAX_OLD_SPACE_MIB = 48;
/**
 * How much the live heap may grow after the warm-up: what the server keeps by design, bounded
 * (RunMemory's 1,000 runs and keys, under 1 MiB), and code V8 compiles late, with room to spare.
 * A leak of 4 KiB a call over the short soak's 800 calls exceeds it.
 */
const HEAP_GROWTH_MIB = 3;

/**
 * Loaded into the server before its own code (node --import): on SIGUSR2, a full GC, then the
 * heap used on stderr. The server's code is the shipped bundle, unchanged.
 */
const HEAP_PROBE = `data:text/javascript,process.on("SIGUSR2",()=>{globalThis.gc();process.stderr.write("heap-probe "+process.memoryUsage().heapUsed+"\\n")})`;

/** A small seeded PRNG, so a failing soak can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FAULTS: Array<[string, (req: RecordedRequest) => Handler]> = [
  ['429 retry-after-ms', () => () => ({ ...floraError(429, 'rate_limited', 'Slow down.'), headers: { 'retry-after-ms': '50' } })],
  ['429 without Retry-After', () => () => floraError(429, 'rate_limited', 'Slow down.')],
  ['500 unknown_error', () => () => floraError(500, 'unknown_error', 'Something broke.')],
  ['502 HTML page', () => faults.html(502)],
  ['503 JSON', () => () => floraError(503, 'service_unavailable', 'Try later.')],
  ['reset before answering', () => faults.reset],
  [
    'reset after the run is created',
    (req) =>
      req.method === 'POST'
        ? (_r, res, ctx) => {
            ctx.defaultReply();
            res.socket?.resetAndDestroy();
          }
        : faults.reset,
  ],
  ['hang', () => faults.hang],
  [
    'truncated JSON',
    // A 2xx to a start means FLORA created the run: the cut happened on the way back.
    (req) =>
      req.method === 'POST'
        ? (r, res, ctx) => {
            ctx.defaultReply();
            return faults.truncated(201)(r, res, ctx);
          }
        : faults.truncated(200),
  ],
  [
    'body echoing the key',
    (req) =>
      req.method === 'POST'
        ? () =>
            floraError(400, 'input_validation_error', `Key ${FAKE_KEY} is not allowed here.`, [
              { field: 'prompt', message: `seen ${FAKE_KEY}` },
            ])
        : (_r, _res, ctx) => {
            const reply = ctx.defaultReply();
            return reply.status === 200 ? { ...reply, body: { ...(reply.body as object), echoed: `Bearer ${FAKE_KEY}` } } : reply;
          },
  ],
];

interface Planned {
  i: number;
  name: string;
  args: () => Record<string, unknown>;
}

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const random = prng(opts.seed ?? 20261128);
  const faultRate = opts.faultRate ?? 0.2;
  const fake = await FakeFlora.start();
  const injected: Record<string, number> = {};
  /** Off during the warm-up: only the measured calls are tallied. */
  let measuring = false;
  fake.chaos = (req) => {
    if (random() >= faultRate) return undefined;
    const [kind, make] = FAULTS[Math.floor(random() * FAULTS.length)]!;
    if (measuring) injected[kind] = (injected[kind] ?? 0) + 1;
    return make(req);
  };
  fake.runPlan = { durationMs: 1_500 };

  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [
      '--expose-gc',
      `--max-old-space-size=${MAX_OLD_SPACE_MIB}`,
      ...[HEAP_PROBE, ...(opts.serverImports ?? [])].flatMap((m) => ['--import', m]),
      BIN,
    ],
    env: {
      FLORA_API_KEY: FAKE_KEY,
      FLORA_BASE_URL: fake.baseUrl,
      FLORA_LOG: 'debug',
      FLORA_TIMEOUT_MS: '1000',
      FLORA_MAX_WAIT_SECONDS: '5',
    },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let closed = false;
  transport.onclose = () => {
    closed = true;
  };
  const client = new Client({ name: 'soak', version: '0' });
  await client.connect(transport);
  const pid = transport.pid!;

  /** Resident memory while the server lives, NaN once it has exited. */
  const rss = (): number => {
    try {
      return closed ? Number.NaN : rssMiB(pid);
    } catch {
      return Number.NaN;
    }
  };

  /** The server's live heap in MiB: SIGUSR2 to the probe, then its next heap-probe line. */
  const liveHeapMiB = async (): Promise<number> => {
    const seen = stderr.match(/heap-probe \d+/g)?.length ?? 0;
    if (closed) return Number.NaN;
    process.kill(pid, 'SIGUSR2');
    const until = Date.now() + 10_000;
    for (;;) {
      const lines = stderr.match(/heap-probe (\d+)/g) ?? [];
      if (lines.length > seen) return Number(lines.at(-1)!.split(' ')[1]) / 1024 / 1024;
      if (closed || Date.now() > until) return Number.NaN;
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  const violations: string[] = [];
  /** Results of the measured calls (warm-up calls are checked the same way, not tallied). */
  const outcomes: Record<string, number> = {};
  const latencies: number[] = [];
  const knownRuns: string[] = [];
  /** prompt -> what the agent got: the run_id, or the error. */
  const starts = new Map<string, { runId?: string; error?: { code: string; idempotency_key?: string } }>();
  let answered = 0;
  const rssTrace: number[] = [];
  let done = 0;

  const makePlan = (count: number, tag: string): Planned[] =>
    Array.from({ length: count }, (_, i) => {
      const r = random();
      if (r < 0.1) return { i, name: 'list_workspaces', args: () => ({}) };
      if (r < 0.22)
        return {
          i,
          name: 'list_projects',
          args: () => ({ workspace_id: 'ws_studio', limit: 10, ...(i % 3 === 0 ? { query: 'mug' } : {}) }),
        };
      if (r < 0.34)
        return {
          i,
          name: 'list_models',
          args: () => ({ ...(i % 2 ? { type: 'image' } : {}), ...(i % 5 === 0 ? { detail: true } : {}) }),
        };
      if (r < 0.62) {
        return {
          i,
          name: 'start_generation_run',
          args: () => ({
            project_id: 'prj_s01',
            workspace_id: 'ws_studio',
            prompt: `${tag}-${i}`,
            type: 'image',
            ...(i % 2 === 0 ? { model: 't2i-flux-2-pro', params: { aspect_ratio: '16:9' } } : {}),
            ...(i % 4 === 1 ? { wait_seconds: 3 } : {}),
          }),
        };
      }
      if (r < 0.68) {
        // A batch of two, billed and keyed like single starts, in the same project.
        return {
          i,
          name: 'start_generation_batch',
          args: () => ({
            generations: ['a', 'b'].map((item) => ({
              project_id: 'prj_s01',
              workspace_id: 'ws_studio',
              prompt: `${tag}-${i}-${item}`,
              type: 'image',
              ...(item === 'a' ? { model: 't2i-flux-2-pro' } : {}),
            })),
            ...(i % 3 === 0 ? { wait_seconds: 3 } : {}),
          }),
        };
      }
      if (r < 0.72) {
        return {
          i,
          name: 'poll_runs',
          args: () => ({
            run_ids: [
              ...new Set(
                [0, 1, 2].map(() => (knownRuns.length ? knownRuns[Math.floor(random() * knownRuns.length)]! : 'run_unknown0')),
              ),
            ],
            ...(i % 2 === 0 ? { wait_seconds: 2 } : {}),
          }),
        };
      }
      if (r < 0.92) {
        return {
          i,
          name: 'poll_run',
          args: () => ({
            run_id: knownRuns.length && i % 6 !== 0 ? knownRuns[Math.floor(random() * knownRuns.length)]! : 'run_unknown0',
            ...(i % 3 === 0 ? { wait_seconds: 2 } : {}),
          }),
        };
      }
      // Bad arguments: refused locally, never sent.
      return {
        i,
        name: 'start_generation_run',
        args: () => ({ project_id: 'proj_1', workspace_id: 'ws_studio', prompt: '', type: 't2i' }),
      };
    });
  const plan = makePlan(opts.calls, 'soak');

  const one = async (p: Planned) => {
    const args = p.args();
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), CALL_BOUND_MS)));
    let result: CallToolResult | 'timeout';
    try {
      result = await Promise.race([
        client.callTool({ name: p.name, arguments: args }, undefined, {
          timeout: CALL_BOUND_MS + 5_000,
        }) as Promise<CallToolResult>,
        bound,
      ]);
    } catch (err) {
      violations.push(`call ${p.i} (${p.name}) threw: ${(err as Error).message}`);
      return;
    } finally {
      clearTimeout(timer);
    }
    if (result === 'timeout') {
      violations.push(`call ${p.i} (${p.name}) not answered within ${CALL_BOUND_MS} ms`);
      return;
    }
    if (measuring) {
      answered++;
      if (++done % Math.max(1, Math.floor(opts.calls / 10)) === 0) rssTrace.push(rss());
    }
    if (measuring) latencies.push(performance.now() - t0);
    const text = JSON.stringify(result);
    if (text.includes(FAKE_KEY)) violations.push(`call ${p.i} (${p.name}): the API key appears in the result`);
    let outcome = 'ok';
    if (result.isError) {
      const first = result.content[0];
      const code = first?.type === 'text' ? (JSON.parse(first.text) as { error?: { code?: string } }).error?.code : undefined;
      if (!code) violations.push(`call ${p.i} (${p.name}): malformed error ${text.slice(0, 200)}`);
      outcome = code ?? 'malformed';
    } else if (p.name === 'start_generation_run') {
      const runId = (result.structuredContent as { run_id: string }).run_id;
      knownRuns.push(runId);
      if ((result.structuredContent as { recovered?: boolean }).recovered) outcome = 'ok (recovered)';
    }
    if (p.name === 'start_generation_batch' && !result.isError) {
      // Each item as a start of its own: its run, or its error (with its key where a run may exist).
      const items = (args.generations as Array<{ prompt: string }>).map((g) => g.prompt);
      const entries = (
        result.structuredContent as {
          runs: Array<{ index: number; run_id?: string; error?: { code: string; idempotency_key?: string } }>;
        }
      ).runs;
      for (const entry of entries) {
        const prompt = items[entry.index]!;
        if (entry.run_id !== undefined) {
          knownRuns.push(entry.run_id);
          starts.set(prompt, { runId: entry.run_id });
        } else starts.set(prompt, { error: entry.error ?? { code: 'malformed' } });
        if (measuring) {
          const key = `start_generation_batch item: ${entry.run_id !== undefined ? 'started' : (entry.error?.code ?? 'malformed')}`;
          outcomes[key] = (outcomes[key] ?? 0) + 1;
        }
      }
      if (entries.length !== items.length)
        violations.push(`call ${p.i} (batch): ${entries.length} entries for ${items.length} items`);
    }
    if (p.name === 'start_generation_run' && typeof args.prompt === 'string' && /^(soak|warm)-/.test(args.prompt)) {
      const first = result.content[0];
      starts.set(
        args.prompt,
        result.isError
          ? {
              error:
                first?.type === 'text' ? (JSON.parse(first.text) as { error: { code: string } }).error : { code: 'malformed' },
            }
          : { runId: (result.structuredContent as { run_id: string }).run_id },
      );
    }
    if (measuring) outcomes[`${p.name}: ${outcome}`] = (outcomes[`${p.name}: ${outcome}`] ?? 0) + 1;
  };

  const concurrently = (calls: Planned[]) =>
    Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        for (let p = calls.shift(); p; p = calls.shift()) await one(p);
      }),
    );
  // Warm-up, not counted: the same mix, so that what the server caches and compiles on first use
  // is in the live heap before the first reading.
  const warmupCalls = WARMUP_CALLS;
  await concurrently(makePlan(warmupCalls, 'warm'));
  const heapWarmMiB = await liveHeapMiB();
  const rssWarmMiB = rss();
  measuring = true;
  const t0 = performance.now();
  // The measured run: the first tenth one by one, the rest concurrently.
  const tenth = Math.max(1, Math.floor(opts.calls / 10));
  for (const p of plan.slice(0, tenth)) await one(p);
  await concurrently(plan.slice(tenth));
  const seconds = (performance.now() - t0) / 1000;
  const heapEndMiB = await liveHeapMiB();
  const rssEndMiB = rss();

  // Still alive and serving.
  fake.chaos = undefined;
  try {
    await client.listTools();
  } catch (err) {
    violations.push(`the server no longer answers: ${(err as Error).message}`);
  }
  // No call created two runs; every run the agent was given exists and is that call's.
  const runsByPrompt = new Map<string, string[]>();
  for (const run of fake.runs.values()) runsByPrompt.set(run.prompt, [...(runsByPrompt.get(run.prompt) ?? []), run.run_id]);
  for (const [prompt, ids] of runsByPrompt) {
    if (ids.length > 1) violations.push(`${prompt} created ${ids.length} runs: ${ids.join(', ')}`);
  }
  for (const [prompt, got] of starts) {
    if (got.runId !== undefined && !runsByPrompt.get(prompt)?.includes(got.runId)) {
      violations.push(`${prompt} was answered with ${got.runId}, which is not its run`);
    }
    // Nothing swallowed: a start that failed although its run exists must hand the agent the
    // idempotency_key that makes a retry safe (or say the run exists).
    if (got.error && runsByPrompt.has(prompt)) {
      const key = `start: ${got.error.code}, run exists, idempotency_key given`;
      if (got.error.idempotency_key === undefined)
        violations.push(`${prompt}: ${got.error.code} without idempotency_key, yet its run exists`);
      else outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
  }
  if (stderr.includes(FAKE_KEY)) violations.push('the API key appears on stderr');
  if (closed) {
    const oom = /heap out of memory|Allocation failed/i.test(stderr);
    violations.push(
      `the server exited during the soak${oom ? ` out of memory (old space ${MAX_OLD_SPACE_MIB} MiB): a leak` : ''}: ${stderr.slice(-300)}`,
    );
  } else if (!(heapEndMiB <= heapWarmMiB + HEAP_GROWTH_MIB)) {
    violations.push(
      `live heap grew from ${heapWarmMiB.toFixed(2)} to ${heapEndMiB.toFixed(2)} MiB over ${opts.calls} calls (allowed: ${HEAP_GROWTH_MIB} MiB)`,
    );
  }
  await client.close();
  await fake.close();

  return {
    calls: opts.calls,
    answered,
    outcomes,
    faults: injected,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    maxMs: percentile(latencies, 100),
    heapWarmMiB,
    heapEndMiB,
    rssWarmMiB,
    rssEndMiB,
    rssTrace,
    warmupCalls,
    runsCreated: fake.runs.size,
    startsAnswered: starts.size,
    violations,
    seconds,
  };
}

export function formatReport(r: SoakReport): string {
  const lines = [
    `soak: ${r.calls} tool calls in ${r.seconds.toFixed(1)} s, ${r.answered} answered`,
    `latency p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms, max ${r.maxMs.toFixed(0)} ms (bound ${CALL_BOUND_MS} ms)`,
    `live heap (used after a full GC, old space capped at ${MAX_OLD_SPACE_MIB} MiB): after warm-up (${r.warmupCalls} calls, not counted) ${r.heapWarmMiB.toFixed(2)} MiB, at the end ${r.heapEndMiB.toFixed(2)} MiB (allowed growth ${HEAP_GROWTH_MIB} MiB)`,
    `RSS (reported, not judged: V8 sizes its heap to the load): after warm-up ${r.rssWarmMiB.toFixed(1)} MiB, at the end ${r.rssEndMiB.toFixed(1)} MiB`,
    `RSS after each tenth of the run (MiB): ${r.rssTrace.map((x) => x.toFixed(0)).join(' ')}`,
    `runs created ${r.runsCreated} for ${r.startsAnswered} starts (warm-up included)`,
    '',
    'faults injected',
    ...Object.entries(r.faults)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `  ${String(v).padStart(5)}  ${k}`),
    `  ${String(Object.values(r.faults).reduce((a, b) => a + b, 0)).padStart(5)}  in all`,
    '',
    'results by tool and code',
    ...Object.entries(r.outcomes)
      .sort()
      .map(([k, v]) => `  ${String(v).padStart(5)}  ${k}`),
    '',
    r.violations.length === 0
      ? 'violations: none'
      : `violations (${r.violations.length}):\n${r.violations.map((v) => `  - ${v}`).join('\n')}`,
  ];
  return lines.join('\n');
}

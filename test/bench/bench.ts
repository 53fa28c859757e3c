/**
 * `npm run bench`: measurements reported as ratios taken in one run on this machine, never as
 * timed test assertions. Everything runs against the fake FLORA on 127.0.0.1.
 *
 * - cold start: spawn to tools/list answer and RSS, against node -e 0 and the smallest SDK server.
 * - HTTP mode: 200 concurrent clients x 10 calls: errors, throughput, p50/p99, server memory.
 * - tools/list size in bytes for every toolset and for generate alone, against the budgets
 *   test/tools-list.test.ts enforces, with and without env defaults, and each tool's entry.
 * - per-call overhead: a tool call through the built stdio server vs. the same request sent
 *   directly to the fake with fetch.
 * - polling: for runs of 3 s, 6 s and 20 s, how many GET /runs/{id} the server spends waiting
 *   for one run and how late (after the run really completed) the client gets the result; for
 *   start_generation_run with wait_seconds, and for 6 s also start + poll_run with wait_seconds.
 *   One fake and one server process per case, so the cases run concurrently.
 * - upload memory: the server's resident memory growth while upload_media streams a 100 MB file
 *   by signed upload (test/bench/upload-memory.ts).
 * - batches: 12 starts in one start_generation_batch call against 12 start_generation_run calls,
 *   and the polling requests for 8 runs waited for by list against run by run (test/bench/batch.ts).
 * - preview_media: time and peak memory to preview a 4096 px PNG at the default size, and what
 *   loading the image code on the first call costs (test/bench/preview-memory.ts).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { toolsetOfTool } from '../../src/tools/index.js';
import { FAKE_KEY, FakeFlora } from '../helpers/fake-flora.js';
import { DEFAULTS_ENV, TOOLS_LIST_BUDGETS } from '../helpers/tools-list-budget.js';
import { batchBench } from './batch.js';
import { coldStart } from './cold-start.js';
import { bundleFloor } from './floor.js';
import { httpLoad } from './http-load.js';
import { previewMemory } from './preview-memory.js';
import { uploadMemory } from './upload-memory.js';
import { cpuMs, percentile } from '../helpers/measure.js';
import { BUNDLE } from '../helpers/paths.js';

const BIN = BUNDLE;
const CALLS = 300;
const WARMUP = 30;

/**
 * Bytes of tools/list as the test measures them ({tools} as JSON), for each budget's toolsets,
 * with the default env and with every default set; then each tool's entry, the largest case.
 */
async function toolsListSizes(fake: FakeFlora): Promise<void> {
  console.log('tools/list bytes (JSON of {tools}):');
  let largest: Array<{ name: string; bytes: number }> = [];
  for (const { toolsets, bytes: budget } of TOOLS_LIST_BUDGETS) {
    const sizes: string[] = [];
    for (const [label, env] of [
      ['default env', {}],
      ['env defaults set', DEFAULTS_ENV],
    ] as const) {
      const client = new Client({ name: 'bench', version: '0' });
      await client.connect(
        new StdioClientTransport({
          command: process.execPath,
          args: [BIN],
          env: { FLORA_API_KEY: FAKE_KEY, FLORA_BASE_URL: fake.baseUrl, FLORA_LOG: 'off', FLORA_TOOLSETS: toolsets, ...env },
        }),
      );
      const { tools } = await client.listTools();
      await client.close();
      const bytes = Buffer.byteLength(JSON.stringify({ tools }));
      sizes.push(`${label} ${bytes} (${bytes <= budget ? 'within' : 'OVER'})`);
      if (env === DEFAULTS_ENV && tools.length > largest.length) {
        largest = tools.map((t) => ({
          name: `${t.name} (${toolsetOfTool(t.name) ?? '?'})`,
          bytes: Buffer.byteLength(JSON.stringify(t)),
        }));
      }
    }
    console.log(`  ${toolsets.padEnd(34)} budget ${budget}: ${sizes.join(', ')}`);
  }
  console.log('  each tool, env defaults set: %s', largest.map((t) => `${t.name} ${t.bytes}`).join(', '));
}

/**
 * Per-call overhead: a tool call over stdio against the same request sent directly with fetch,
 * and against the floor: the smallest SDK server whose tool makes that one request (with Node's
 * http module, as this server's GETs do) and returns its JSON (min-call-server.ts), which pays
 * what any MCP server over stdio pays (two pipe hops, JSON-RPC on both sides, the SDK's
 * validation) and nothing of this server's own work. The three
 * alternate call by call after a shared warm-up, so load on this shared machine and fetch's own
 * warming hit all alike (measured one block after the other, the direct median fell from 0.74 to
 * 0.28 ms across rounds while the tool's stayed put, moving the "overhead"). Each server's CPU
 * time per call (from /proc) is printed too: it does not depend on how the two processes meet.
 */
async function perCallOverhead(fake: FakeFlora): Promise<void> {
  const direct = async () => {
    const res = await fetch(`${fake.baseUrl}/models?type=image`, {
      headers: { Authorization: `Bearer ${FAKE_KEY}`, Accept: 'application/json' },
    });
    await res.json();
  };
  const connect = async (script: string) => {
    const { client, transport } = connectServer(fake, script);
    await client.connect(transport);
    await client.listTools();
    const call = async () => {
      const r = await client.callTool({ name: 'list_models', arguments: { type: 'image' } });
      if (r.isError) throw new Error(JSON.stringify(r.content));
    };
    return { client, call, pid: transport.pid! };
  };
  const ours = await connect(BIN);
  const floor = await connect(await bundleFloor('min-call-server'));
  const timed = async (fn: () => Promise<void>) => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };
  const round = async () => [await timed(direct), await timed(floor.call), await timed(ours.call)] as const;
  for (let i = 0; i < WARMUP; i++) await round();
  const cpu0 = [cpuMs(floor.pid), cpuMs(ours.pid)];
  const ms: [number[], number[], number[]] = [[], [], []];
  for (let i = 0; i < CALLS; i++) {
    const r = await round();
    for (let k = 0; k < 3; k++) ms[k]!.push(r[k]!);
  }
  const cpuPerCall = [(cpuMs(floor.pid) - cpu0[0]!) / CALLS, (cpuMs(ours.pid) - cpu0[1]!) / CALLS];
  await ours.client.close();
  await floor.client.close();

  const [d, f, t] = ms.map((xs) => percentile(xs, 50)) as [number, number, number];
  console.log('per-call overhead (list_models, medians of %d rounds of direct, floor and tool calls)', CALLS);
  console.log('  direct fetch to fake          %s ms', d.toFixed(3));
  console.log(
    '  floor (smallest SDK server)   %s ms   overhead %s ms   server CPU %s ms/call',
    f.toFixed(3),
    (f - d).toFixed(3),
    cpuPerCall[0]!.toFixed(2),
  );
  console.log(
    '  this server over stdio        %s ms   overhead %s ms   server CPU %s ms/call',
    t.toFixed(3),
    (t - d).toFixed(3),
    cpuPerCall[1]!.toFixed(2),
  );
  console.log('  this server above the floor   %s ms', (t - f).toFixed(3));
  console.log('target: overhead <= 1.0 ms');
}

const POLL_REPS = 2;
const POLL_WAIT_SECONDS = 50;
/** Longer than any case can take (wait_seconds plus slack), so the SDK's 60 s default never cuts in. */
const CALL_TIMEOUT_MS = 90_000;
const TARGET_RUN_MS = 6_000;
const TARGET_MAX_POLLS = 4;
const TARGET_MAX_LATE_MS = 1_000;
const START_ARGS = { project_id: 'prj_bench', workspace_id: 'ws_bench', prompt: 'bench', type: 'image' } as const;

type Flow = 'start-wait' | 'start+poll_run';

interface PollCase {
  durationMs: number;
  flow: Flow;
}

interface PollSample {
  durationMs: number;
  flow: Flow;
  rep: number;
  runId: string;
  polls: number;
  /** Client saw the result this many ms after the run completed (negative: before). */
  latenessMs: number;
  status: string;
  /** When each GET /runs/{id} reached the fake, in ms after the run was created. */
  pollOffsetsMs: number[];
}

/** A client for `script` (default: this server's bin) against the fake, not yet connected. */
function connectServer(fake: FakeFlora, script = BIN): { client: Client; transport: StdioClientTransport } {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [script],
    env: { FLORA_API_KEY: FAKE_KEY, FLORA_BASE_URL: fake.baseUrl, FLORA_LOG: 'off' },
  });
  return { client: new Client({ name: 'bench', version: '0' }), transport };
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const r = await client.callTool({ name, arguments: args }, undefined, { timeout: CALL_TIMEOUT_MS });
  if (r.isError) throw new Error(`${name} failed: ${JSON.stringify(r.content)}`);
  const sc = r.structuredContent as Record<string, unknown> | undefined;
  if (!sc) throw new Error(`${name} returned no structuredContent`);
  return sc;
}

/** One case on its own fake and server: POLL_REPS sequential runs (runPlan is global to a fake). */
async function pollCase(c: PollCase): Promise<PollSample[]> {
  const fake = await FakeFlora.start();
  const { client, transport } = connectServer(fake);
  const samples: PollSample[] = [];
  try {
    await client.connect(transport);
    for (let rep = 1; rep <= POLL_REPS; rep++) {
      fake.runPlan = { durationMs: c.durationMs };
      let runId: string;
      let status: string;
      let returnedAt: number;
      if (c.flow === 'start-wait') {
        const sc = await call(client, 'start_generation_run', { ...START_ARGS, wait_seconds: POLL_WAIT_SECONDS });
        returnedAt = Date.now();
        runId = String(sc.run_id);
        status = String((sc.run as Record<string, unknown> | undefined)?.status ?? 'no run in result');
      } else {
        const started = await call(client, 'start_generation_run', { ...START_ARGS, wait_seconds: 0 });
        runId = String(started.run_id);
        const sc = await call(client, 'poll_run', { run_id: runId, wait_seconds: POLL_WAIT_SECONDS });
        returnedAt = Date.now();
        status = String(sc.status);
      }
      const run = fake.runs.get(runId);
      if (!run) throw new Error(`fake has no run ${runId}`);
      const gets = fake.requests.filter((q) => q.method === 'GET' && q.path === `/runs/${runId}`);
      samples.push({
        durationMs: c.durationMs,
        flow: c.flow,
        rep,
        runId,
        polls: gets.length,
        latenessMs: returnedAt - (run.created_at + run.duration_ms),
        status,
        pollOffsetsMs: gets.map((q) => q.at - run.created_at),
      });
    }
    fake.assertAllRouted();
  } finally {
    await client.close().catch(() => {});
    await fake.close();
  }
  return samples;
}

function printPollTable(title: string, samples: PollSample[]): void {
  console.log(title);
  console.log('  run    rep  polls  lateness_ms  status      GET /runs at (s after start)');
  for (const s of samples) {
    const run = `${s.durationMs / 1000} s`.padEnd(6);
    const offsets = s.pollOffsetsMs.map((ms) => (ms / 1000).toFixed(2)).join(', ');
    console.log(
      `  ${run} ${String(s.rep).padEnd(4)} ${String(s.polls).padEnd(6)} ${String(s.latenessMs).padEnd(12)} ${s.status.padEnd(11)} ${offsets}`,
    );
  }
}

async function polling(): Promise<void> {
  const cases: PollCase[] = [
    { durationMs: 3_000, flow: 'start-wait' },
    { durationMs: 6_000, flow: 'start-wait' },
    { durationMs: 20_000, flow: 'start-wait' },
    { durationMs: 6_000, flow: 'start+poll_run' },
  ];
  const t0 = Date.now();
  const results = await Promise.all(cases.map((c) => pollCase(c)));
  const all = results.flat();

  console.log('');
  printPollTable(
    `polling (start_generation_run wait_seconds=${POLL_WAIT_SECONDS}; ${POLL_REPS} runs per case)`,
    all.filter((s) => s.flow === 'start-wait'),
  );
  printPollTable(
    `polling (start_generation_run wait_seconds=0, then poll_run wait_seconds=${POLL_WAIT_SECONDS})`,
    all.filter((s) => s.flow === 'start+poll_run'),
  );
  console.log(
    '  (polls: GET /runs/{id} the fake received for that run; lateness: client got the result this long after the run completed)',
  );
  console.log('  cases ran concurrently, one fake and one server each; %d ms in all', Date.now() - t0);
  console.log(
    'target: a %d s run costs <= %d GET /runs and is noticed <= %d ms after it completes',
    TARGET_RUN_MS / 1000,
    TARGET_MAX_POLLS,
    TARGET_MAX_LATE_MS,
  );

  const misses: string[] = [];
  for (const s of all.filter((x) => x.durationMs === TARGET_RUN_MS)) {
    const what = `${s.flow} rep ${s.rep}`;
    if (s.status !== 'completed') misses.push(`${what}: status ${s.status}`);
    if (s.polls > TARGET_MAX_POLLS) misses.push(`${what}: ${s.polls} polls > ${TARGET_MAX_POLLS}`);
    if (s.latenessMs > TARGET_MAX_LATE_MS) misses.push(`${what}: ${s.latenessMs} ms late > ${TARGET_MAX_LATE_MS}`);
  }
  const others = all.filter((x) => x.durationMs !== TARGET_RUN_MS && x.status !== 'completed');
  for (const s of others) console.log('  note: %d s run rep %d ended with status %s', s.durationMs / 1000, s.rep, s.status);
  console.log(
    misses.length === 0
      ? `${TARGET_RUN_MS / 1000} s target: met`
      : `${TARGET_RUN_MS / 1000} s target: MISSED (${misses.join('; ')})`,
  );
}

/** Each part of the bench by name; `npm run bench -- sizes overhead` runs only those. */
const PARTS: Record<string, () => Promise<void>> = {
  sizes: () => withFake(toolsListSizes),
  overhead: () => withFake(perCallOverhead),
  polling,
  batch: batchBench,
  'cold-start': () => coldStart(),
  http: httpLoad,
  upload: uploadMemory,
  preview: previewMemory,
};

async function withFake(fn: (fake: FakeFlora) => Promise<void>): Promise<void> {
  const fake = await FakeFlora.start();
  try {
    await fn(fake);
  } finally {
    await fake.close();
  }
}

const asked = process.argv.slice(2);
const unknown = asked.filter((p) => !(p in PARTS));
if (unknown.length > 0) throw new Error(`unknown bench part(s) ${unknown.join(', ')}; parts: ${Object.keys(PARTS).join(', ')}`);
for (const [name, run] of Object.entries(PARTS)) if (asked.length === 0 || asked.includes(name)) await run();

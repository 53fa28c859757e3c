/**
 * Batches, measured through the built server over stdio against the fake FLORA:
 * - 12 generations started by one start_generation_batch call against 12 start_generation_run
 *   calls one after another, with every POST /generate held START_LATENCY_MS (FLORA's creates
 *   take about half a second: 6 concurrent went out in 3.1 s);
 * - the polling requests FLORA receives while 8 runs of RUN_MS are waited for: by list
 *   (poll_runs) against run by run (8 concurrent poll_run calls).
 * Ratios from one run on this machine, not timed assertions.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { FAKE_KEY, FakeFlora } from '../helpers/fake-flora.js';
import { BUNDLE } from '../helpers/paths.js';

const START_LATENCY_MS = 500;
const BATCH = 12;
const POLLED = 8;
const RUN_MS = 6_000;
const WAIT_SECONDS = 50;
const ITEM = { project_id: 'prj_bench', workspace_id: 'ws_bench', type: 'image' } as const;

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const r = await client.callTool({ name, arguments: args }, undefined, { timeout: 90_000 });
  if (r.isError) throw new Error(`${name} failed: ${JSON.stringify(r.content)}`);
  return r.structuredContent as Record<string, unknown>;
}

function runIdsOf(batch: Record<string, unknown>): string[] {
  return (batch.runs as Array<{ run_id?: string }>).map((r) => {
    if (!r.run_id) throw new Error(`an item did not start: ${JSON.stringify(r)}`);
    return r.run_id;
  });
}

export async function batchBench(): Promise<void> {
  const fake = await FakeFlora.start();
  const client = new Client({ name: 'bench', version: '0' });
  try {
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [BUNDLE],
        env: { FLORA_API_KEY: FAKE_KEY, FLORA_BASE_URL: fake.baseUrl, FLORA_LOG: 'off' },
      }),
    );
    const items = (label: string) => Array.from({ length: BATCH }, (_, i) => ({ ...ITEM, prompt: `${label} ${i}` }));

    // Starts: one batch call against the same starts one by one.
    fake.startHold = { ms: START_LATENCY_MS };
    let t0 = performance.now();
    const batch = await call(client, 'start_generation_batch', { generations: items('batch') });
    const batchMs = performance.now() - t0;
    runIdsOf(batch);
    const batchPeak = fake.peakStartsInFlight;
    t0 = performance.now();
    for (const item of items('sequential')) await call(client, 'start_generation_run', item);
    const sequentialMs = performance.now() - t0;
    fake.startHold = undefined;

    console.log('');
    console.log(`batch starts (${BATCH} generations, each POST /generate held ${START_LATENCY_MS} ms by the fake)`);
    console.log(`  start_generation_batch, one call        ${batchMs.toFixed(0)} ms  (peak ${batchPeak} starts in flight)`);
    console.log(`  start_generation_run x ${BATCH}, in turn     ${sequentialMs.toFixed(0)} ms`);
    console.log(`  ratio sequential/batch                  ${(sequentialMs / batchMs).toFixed(2)}x`);

    // Polling: 8 runs waited for by list, then 8 more run by run.
    fake.runPlan = { durationMs: RUN_MS };
    const byList = runIdsOf(await call(client, 'start_generation_batch', { generations: items('listed').slice(0, POLLED) }));
    fake.requests.length = 0;
    const waited = await call(client, 'poll_runs', { run_ids: byList, wait_seconds: WAIT_SECONDS });
    const listCalls = fake.requestsTo('GET', '/generations').length;
    const listSingles = fake.requestsTo('GET', '/runs/:id').length;
    const listDone = (waited.runs as Array<{ status?: string }>).filter((r) => r.status === 'completed').length;

    const single = runIdsOf(await call(client, 'start_generation_batch', { generations: items('single').slice(0, POLLED) }));
    fake.requests.length = 0;
    const polled = await Promise.all(single.map((id) => call(client, 'poll_run', { run_id: id, wait_seconds: WAIT_SECONDS })));
    const singleCalls = fake.requestsTo('GET', '/runs/:id').length;
    const singleDone = polled.filter((r) => r.status === 'completed').length;

    console.log(`polling ${POLLED} runs of ${RUN_MS / 1000} s until they end (requests FLORA received while waiting)`);
    console.log(
      `  poll_runs, by list                      ${listCalls + listSingles} (${listCalls} GET /generations, ${listSingles} GET /runs/{id}); ${listDone}/${POLLED} completed`,
    );
    console.log(
      `  poll_run x ${POLLED}, run by run               ${singleCalls} GET /runs/{id}; ${singleDone}/${POLLED} completed`,
    );
    console.log(`  ratio run-by-run/list                   ${(singleCalls / (listCalls + listSingles)).toFixed(1)}x`);
    fake.assertAllRouted();
  } finally {
    await client.close().catch(() => {});
    await fake.close();
  }
}

/**
 * HTTP mode under load: the bundle serving Streamable HTTP on loopback, 200 concurrent clients
 * making 10 tool calls each against the fake FLORA. Reports errors (goal 0), throughput, p50/p99
 * latency, and the server's resident memory before and after.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { FAKE_KEY, FakeFlora } from '../helpers/fake-flora.js';
import { cpuMs, percentile, rssMiB, spawnHttpBundle } from '../helpers/measure.js';

const CLIENTS = Number(process.env.LOAD_CLIENTS ?? 200);
const CALLS_PER_CLIENT = 10;

export async function httpLoad(): Promise<void> {
  const fake = await FakeFlora.start();
  const { child, url } = await spawnHttpBundle({ FLORA_BASE_URL: fake.baseUrl, FLORA_LOG: 'off' });
  try {
    const before = rssMiB(child.pid!);
    const cpuBefore = cpuMs(child.pid!);
    const latencies: number[] = [];
    const errors = new Map<string, number>();
    const fail = (what: string) => errors.set(what, (errors.get(what) ?? 0) + 1);
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        const client = new Client({ name: `load-${i}`, version: '0' });
        try {
          await client.connect(
            new StreamableHTTPClientTransport(new URL(url), {
              requestInit: { headers: { Authorization: `Bearer ${FAKE_KEY}` } },
            }),
          );
        } catch (err) {
          fail(`connect: ${(err as Error).message.slice(0, 60)}`);
          return;
        }
        for (let c = 0; c < CALLS_PER_CLIENT; c++) {
          const [name, args] =
            c % 2 === 0 ? ['list_models', { type: 'image' }] : ['list_projects', { workspace_id: 'ws_studio', limit: 5 }];
          const s = performance.now();
          try {
            const r = await client.callTool({ name, arguments: args });
            if (r.isError) fail(`isError ${name}`);
            else latencies.push(performance.now() - s);
          } catch (err) {
            fail(`${name}: ${(err as Error).message.slice(0, 60)}`);
          }
        }
        await client.close();
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const after = rssMiB(child.pid!);
    const serverCpu = cpuMs(child.pid!) - cpuBefore;
    const total = CLIENTS * CALLS_PER_CLIENT;
    const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
    console.log(
      `\nHTTP mode load: ${CLIENTS} concurrent clients x ${CALLS_PER_CLIENT} tool calls (list_models, list_projects) on loopback`,
    );
    console.log(
      `  calls ${total}, errors ${errorCount} (goal 0)${errorCount ? `: ${JSON.stringify(Object.fromEntries(errors))}` : ''}`,
    );
    console.log(`  throughput ${(latencies.length / seconds).toFixed(0)} calls/s over ${seconds.toFixed(1)} s`);
    console.log(
      `  latency p50 ${percentile(latencies, 50).toFixed(1)} ms, p90 ${percentile(latencies, 90).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${percentile(latencies, 100).toFixed(1)} ms`,
    );
    console.log(`  server CPU ${(serverCpu / total).toFixed(2)} ms per call (the load generator shares the 2 cores)`);
    console.log(
      `  server RSS before ${before.toFixed(1)} MiB, after ${after.toFixed(1)} MiB; FLORA saw ${fake.requests.length} requests`,
    );
  } finally {
    child.kill('SIGTERM');
    await fake.close();
  }
}

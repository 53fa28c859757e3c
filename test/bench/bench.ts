/**
 * `npm run bench`: measurements reported as ratios taken in one run on this machine, never as
 * timed test assertions. Everything runs against the fake FLORA on 127.0.0.1.
 *
 * - per-call overhead: a tool call through the built stdio server vs. the same request sent
 *   directly to the fake with fetch.
 */
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { FAKE_KEY, FakeFlora } from '../helpers/fake-flora.js';

const BIN = fileURLToPath(new URL('../../src/index.js', import.meta.url));
const CALLS = 300;
const WARMUP = 30;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function timeEach(n: number, fn: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

async function perCallOverhead(fake: FakeFlora): Promise<void> {
  const direct = await timeEach(CALLS, async () => {
    const res = await fetch(`${fake.baseUrl}/models?type=image`, {
      headers: { Authorization: `Bearer ${FAKE_KEY}`, Accept: 'application/json' },
    });
    await res.json();
  });

  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN],
    env: { FLORA_API_KEY: FAKE_KEY, FLORA_BASE_URL: fake.baseUrl, FLORA_LOG: 'off' },
  });
  const client = new Client({ name: 'bench', version: '0' });
  await client.connect(transport);
  const viaTool = await timeEach(CALLS, async () => {
    const r = await client.callTool({ name: 'list_models', arguments: { type: 'image' } });
    if (r.isError) throw new Error(JSON.stringify(r.content));
  });
  await client.close();

  const d = median(direct);
  const t = median(viaTool);
  console.log('per-call overhead (list_models, median of %d sequential calls)', CALLS);
  console.log('  direct fetch to fake   %s ms', d.toFixed(3));
  console.log('  tool call over stdio   %s ms', t.toFixed(3));
  console.log('  ratio tool/direct      %sx  (overhead %s ms per call)', (t / d).toFixed(2), (t - d).toFixed(3));
}

const fake = await FakeFlora.start();
try {
  await perCallOverhead(fake);
} finally {
  await fake.close();
}

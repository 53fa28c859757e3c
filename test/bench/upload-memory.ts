/**
 * Memory of a large upload_media: the built server (spawned over stdio, as a client runs it)
 * uploads a 100 MB MP4 by signed upload to the fake FLORA's storage endpoint, which counts the
 * bytes and drops them. Reported: the server's resident memory before, its peak during the upload
 * (VmHWM from /proc, and the highest VmRSS sampled every 20 ms), and the growth, against a 5 MB
 * signed upload in the same process as the baseline. A number to read, not a test: the streamed
 * upload must not grow the server by anything like the file's size.
 *
 * Run alone with `npm run build && node dist/test/bench/upload-memory.js [MB]`, or as part of
 * `npm run bench`.
 */
import { mkdtempSync, openSync, rmSync, truncateSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { FAKE_KEY, FakeFlora } from '../helpers/fake-flora.js';
import { hwmMiB, rssMiB } from '../helpers/measure.js';
import { BUNDLE } from '../helpers/paths.js';

/** An MP4 header (ftyp isom, which file-type reads as video/mp4) and then zeros, `bytes` long. */
function mp4File(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  writeSync(fd, Buffer.from('000000186674797069736f6d0000020069736f6d69736f32', 'hex'));
  closeSync(fd);
  // Sparse: the zeros cost no disk, and are read back as zeros all the same.
  truncateSync(path, bytes);
}

export async function uploadMemory(megabytes = 100): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'flora-upload-bench-'));
  const fake = await FakeFlora.start();
  fake.assets.keepBytes = 0;
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BUNDLE],
    env: { FLORA_API_KEY: FAKE_KEY, FLORA_BASE_URL: fake.baseUrl, FLORA_LOG: 'off' },
  });
  const client = new Client({ name: 'bench', version: '0' });
  try {
    const small = join(dir, 'small.mp4');
    const large = join(dir, 'large.mp4');
    mp4File(small, 5_000_000);
    mp4File(large, megabytes * 1_000_000);
    await client.connect(transport);
    const pid = transport.pid!;
    await client.listTools();
    const upload = async (source: string) => {
      let sampled = 0;
      const sampler = setInterval(() => (sampled = Math.max(sampled, rssMiB(pid))), 20);
      const t0 = performance.now();
      const result = (await client.callTool(
        { name: 'upload_media', arguments: { source, workspace_id: 'ws_studio' } },
        undefined,
        { timeout: 600_000 },
      )) as CallToolResult;
      clearInterval(sampler);
      const out = result.structuredContent as { status?: string; size_bytes?: number } | undefined;
      if (result.isError || out?.status !== 'ready') throw new Error(`upload failed: ${JSON.stringify(result.content)}`);
      return { ms: performance.now() - t0, sampled, size: out.size_bytes };
    };

    const started = rssMiB(pid);
    const warm = await upload(small); // loads file-type, warms fetch and FormData
    const before = rssMiB(pid);
    const hwmBefore = hwmMiB(pid);
    const big = await upload(large);
    const hwmAfter = hwmMiB(pid);
    const received = fake.assets.storageUploads.at(-1)!;

    console.log('');
    console.log(`upload_media memory (built server over stdio, signed upload to the fake storage host)`);
    console.log(`  server RSS after start: ${started.toFixed(1)} MiB`);
    console.log(
      `  5 MB warm-up upload: ${warm.ms.toFixed(0)} ms, highest sampled RSS ${warm.sampled.toFixed(1)} MiB; RSS after ${before.toFixed(1)} MiB, peak so far (VmHWM) ${hwmBefore.toFixed(1)} MiB`,
    );
    console.log(
      `  ${megabytes} MB upload: ${big.ms.toFixed(0)} ms (${((megabytes / big.ms) * 1000).toFixed(0)} MB/s), storage host got ${received.fileBytes} file bytes (${received.authorization === undefined ? 'no' : 'an'} Authorization header), FLORA reports size_bytes ${big.size}`,
    );
    console.log(
      `  peak RSS during it: ${Math.max(hwmAfter, big.sampled).toFixed(1)} MiB (VmHWM ${hwmAfter.toFixed(1)}, highest sample ${big.sampled.toFixed(1)})`,
    );
    console.log(
      `  growth over the RSS before it: ${(Math.max(hwmAfter, big.sampled) - before).toFixed(1)} MiB for a ${megabytes} MB file; over the earlier peak: ${(hwmAfter - hwmBefore).toFixed(1)} MiB`,
    );
  } finally {
    await client.close().catch(() => {});
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await uploadMemory(process.argv[2] ? Number(process.argv[2]) : 100);
}

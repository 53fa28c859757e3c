/**
 * preview_media of a 4096 px PNG at the default size, through the built server over stdio, as a
 * client runs it: the time of the call and the server's peak memory, against its memory at start.
 * The fake FLORA serves a photo-like 4096x4096 PNG (gradients and noise, so it compresses about as
 * badly as a real render) from its loopback media host. The first call previews a small PNG: the
 * difference to a second such call is what loading the image code on first use costs.
 *
 * Run alone with `npm run build && node dist/test/bench/preview-memory.js`, or in `npm run bench`.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { FAKE_KEY, FakeFlora } from '../helpers/fake-flora.js';
import { hwmMiB, percentile, rssMiB } from '../helpers/measure.js';
import { BUNDLE } from '../helpers/paths.js';
import { noisyPng, quadrantsPng } from '../helpers/test-images.js';

interface Previewed {
  width: number;
  height: number;
  preview_width: number;
  preview_height: number;
  preview_bytes: number;
}

export async function previewMemory(): Promise<void> {
  const fake = await FakeFlora.start();
  const big = noisyPng(4096, 4096);
  fake.media.serve('small.png', { contentType: 'image/png', bytes: () => quadrantsPng(64, 48) });
  fake.media.serve('4096.png', { contentType: 'image/png', bytes: () => big });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BUNDLE],
    env: { FLORA_API_KEY: FAKE_KEY, FLORA_BASE_URL: fake.baseUrl, FLORA_LOG: 'off', FLORA_MEDIA_HOSTS: '127.0.0.1' },
  });
  const client = new Client({ name: 'bench', version: '0' });
  try {
    await client.connect(transport);
    const pid = transport.pid!;
    await client.listTools();
    const preview = async (name: string) => {
      let sampled = 0;
      const sampler = setInterval(() => (sampled = Math.max(sampled, rssMiB(pid))), 10);
      const t0 = performance.now();
      const r = (await client.callTool({ name: 'preview_media', arguments: { url: fake.media.url(name) } }, undefined, {
        timeout: 120_000,
      })) as CallToolResult;
      const ms = performance.now() - t0;
      clearInterval(sampler);
      if (r.isError) throw new Error(JSON.stringify(r.content));
      const image = (r.structuredContent as { images: Previewed[] }).images[0]!;
      return { ms, sampled, image };
    };
    const started = rssMiB(pid);
    const hwmStart = hwmMiB(pid);
    const cold = await preview('small.png');
    const warmMs: number[] = [];
    for (let n = 0; n < 7; n++) warmMs.push((await preview('small.png')).ms);
    const warm = { ms: percentile(warmMs, 50) };
    const before = rssMiB(pid);
    const large = await preview('4096.png');
    const hwm = hwmMiB(pid);
    const again = await preview('4096.png');
    const i = large.image;
    console.log('');
    console.log('preview_media (built server over stdio, default size 768)');
    console.log(`  server RSS after start: ${started.toFixed(1)} MiB (peak so far ${hwmStart.toFixed(1)} MiB)`);
    console.log(
      `  first call (64x48 PNG, loads the image code): ${cold.ms.toFixed(0)} ms; the same call again (median of 7): ${warm.ms.toFixed(0)} ms; loading costs about ${(cold.ms - warm.ms).toFixed(0)} ms once`,
    );
    console.log(
      `  ${i.width}x${i.height} PNG of ${(big.byteLength / 1_000_000).toFixed(1)} MB -> ${i.preview_width}x${i.preview_height} JPEG of ${(i.preview_bytes / 1000).toFixed(1)} KB: ${large.ms.toFixed(0)} ms (again: ${again.ms.toFixed(0)} ms)`,
    );
    console.log(
      `  peak RSS during it: ${Math.max(hwm, large.sampled).toFixed(1)} MiB (VmHWM ${hwm.toFixed(1)}, highest sample ${large.sampled.toFixed(1)}); RSS before it ${before.toFixed(1)} MiB, after both ${rssMiB(pid).toFixed(1)} MiB`,
    );
  } finally {
    await client.close().catch(() => {});
    await fake.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await previewMemory();
}

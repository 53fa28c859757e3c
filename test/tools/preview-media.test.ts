/**
 * preview_media against the fake FLORA, whose completed runs point at real images it serves on
 * its own media host (127.0.0.1, listed in FLORA_MEDIA_HOSTS as a user would for a local mirror).
 * What is asserted is what the agent gets (the previews, decoded, and the structured answer) and
 * what the hosts received: which media requests were made, and that none carried FLORA's key.
 */
import type { CallToolResult, ImageContent } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import type { ImagePreview } from '../../src/tools/media/preview-media.js';
import { FAKE_KEY, type FakeFlora } from '../helpers/fake-flora.js';
import { failure, success, useConnections, VALID_START, VALID_TECHNIQUE_RUN, type ConnectOptions } from '../helpers/harness.js';
import {
  BLUE,
  decodePreview,
  GREEN,
  mp4,
  near,
  quadrantsJpeg,
  quadrantsPng,
  RED,
  type Rgb,
  webp,
  WHITE,
} from '../helpers/test-images.js';

let fake: FakeFlora;
const conns = useConnections((f) => (fake = f));

/** What every test's server is given: the fake's loopback media host, as a user lists a local mirror. */
const MEDIA_ENV = { FLORA_MEDIA_HOSTS: '127.0.0.1' };

/** Every URL the server tried to fetch, FLORA's and media alike: refused URLs must never appear. */
function fetchSpy(): { fetch: typeof fetch; urls: string[] } {
  const urls: string[] = [];
  return {
    urls,
    fetch: (input, init) => {
      urls.push(String(input instanceof Request ? input.url : input));
      return fetch(input, init);
    },
  };
}

async function open(extra: ConnectOptions = {}) {
  return conns.open({ ...extra, env: { ...MEDIA_ENV, ...extra.env } });
}

function serveImages(): void {
  fake.media.serve('1024.png', { contentType: 'image/png', bytes: () => quadrantsPng(1024, 768) });
  fake.media.serve('4096.png', { contentType: 'image/png', bytes: () => quadrantsPng(4096, 2048) });
  fake.media.serve('photo.jpg', { contentType: 'image/jpeg', bytes: () => quadrantsJpeg(600, 400) });
  fake.media.serve('lossy.webp', { contentType: 'image/webp', bytes: () => webp('lossy') });
  fake.media.serve('lossless.webp', { contentType: 'image/webp', bytes: () => webp('lossless') });
  fake.media.serve('alpha.webp', { contentType: 'image/webp', bytes: () => webp('lossyAlpha') });
  fake.media.serve('clip.mp4', { contentType: 'video/mp4', bytes: () => mp4() });
}

/** A completed generation run (started through the tool, as an agent would) showing these outputs. */
async function completedRun(outputs: Array<{ type: string; url: string }>): Promise<string> {
  fake.runPlan = { durationMs: 0, outputs };
  const started = success(await conns.current().call('start_generation_run', VALID_START));
  return started.run_id as string;
}

const image = (name: string) => ({ type: 'imageUrl', url: fake.media.url(name) });

/** A PNG signature and IHDR chunk claiming this size, and no pixels. */
function pngHeader(width: number, height: number): Buffer {
  const b = Buffer.alloc(33);
  Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex').copy(b);
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  b.set([8, 6, 0, 0, 0], 24);
  return b;
}

interface Structured {
  summary: string;
  run_id?: string;
  images: ImagePreview[];
  skipped: Array<{ url?: string; type?: string; reason: string }>;
  status?: string;
  next_poll_seconds?: number;
}

/** A successful answer: the JSON text block, then one image block per preview, which must agree with it. */
function previews(result: CallToolResult): { out: Structured; blocks: ImageContent[] } {
  const out = success(result, result.content.length - 1) as unknown as Structured;
  const blocks = result.content.slice(1) as ImageContent[];
  expect(blocks.map((b) => [b.type, b.mimeType])).toEqual(out.images.map(() => ['image', 'image/jpeg']));
  blocks.forEach((b, i) => {
    expect(Buffer.from(b.data, 'base64').byteLength).toBe(out.images[i]!.preview_bytes);
  });
  return { out, blocks };
}

/** The quadrant colours at their centres: red, green / blue, and white where the original was transparent. */
function expectQuadrants(base64: string, width: number, height: number, last: Rgb = WHITE): void {
  const p = decodePreview(base64);
  expect([p.width, p.height]).toEqual([width, height]);
  const seen = [p.at(0.25, 0.25), p.at(0.75, 0.25), p.at(0.25, 0.75), p.at(0.75, 0.75)];
  const expected = [RED, GREEN, BLUE, last];
  expect(
    seen.map((c, i) => near(c, expected[i]!)),
    JSON.stringify(seen),
  ).toEqual([true, true, true, true]);
}

/** The halves of the WebP fixtures: red left, blue (or white where transparent) right. */
function expectHalves(base64: string, right: Rgb): void {
  const p = decodePreview(base64);
  expect([p.width, p.height]).toEqual([96, 64]);
  expect(near(p.at(0.2, 0.5), RED), JSON.stringify(p.at(0.2, 0.5))).toBe(true);
  expect(near(p.at(0.8, 0.5), right), JSON.stringify(p.at(0.8, 0.5))).toBe(true);
}

function mediaPaths(): string[] {
  return fake.media.requests.map((r) => `${r.host?.split(':')[0]} ${r.path}`);
}

describe('preview_media: what the agent sees', () => {
  it.each([
    [256, 256, 192],
    [undefined, 768, 576],
    [1536, 1024, 768],
  ])(
    'size %s: a 1024x768 PNG comes back as a %sx%s JPEG with the original size, colours and transparency (white)',
    async (size, w, h) => {
      serveImages();
      await open();
      const runId = await completedRun([image('1024.png')]);
      const { out, blocks } = previews(await conns.current().call('preview_media', { run_id: runId, ...(size ? { size } : {}) }));
      expect(out.images).toEqual([
        {
          url: fake.media.url('1024.png'),
          width: 1024,
          height: 768,
          preview_width: w,
          preview_height: h,
          preview_bytes: expect.any(Number),
        },
      ]);
      expect(out.status).toBe('completed');
      expect(out.skipped).toEqual([]);
      expect(out.summary).toContain(`1 JPEG preview(s) of run ${runId} follow`);
      expectQuadrants(blocks[0]!.data, w, h);
    },
  );

  it('a 4096x2048 PNG becomes a 768x384 preview of a few kilobytes', async () => {
    serveImages();
    await open();
    const runId = await completedRun([image('4096.png')]);
    const { out, blocks } = previews(await conns.current().call('preview_media', { run_id: runId }));
    expect(out.images[0]).toMatchObject({ width: 4096, height: 2048, preview_width: 768, preview_height: 384 });
    expect(out.images[0]!.preview_bytes).toBeLessThan(40_000);
    expectQuadrants(blocks[0]!.data, 768, 384);
  }, 30_000);

  it('decodes JPEG and WebP (lossy, lossless, and with alpha) as well', async () => {
    serveImages();
    await open();
    const names = ['photo.jpg', 'lossy.webp', 'lossless.webp', 'alpha.webp'];
    const runId = await completedRun(names.map(image));
    const { out, blocks } = previews(await conns.current().call('preview_media', { run_id: runId, size: 300 }));
    expect(out.images.map((i) => [i.width, i.height, i.preview_width, i.preview_height])).toEqual([
      [600, 400, 300, 200],
      [96, 64, 96, 64],
      [96, 64, 96, 64],
      [96, 64, 96, 64],
    ]);
    expectQuadrants(blocks[0]!.data, 300, 200);
    expectHalves(blocks[1]!.data, BLUE);
    expectHalves(blocks[2]!.data, BLUE);
    expectHalves(blocks[3]!.data, WHITE);
  });

  it('previews at most 4 images, lists the rest and the video with reasons, and never fetches those', async () => {
    serveImages();
    await open();
    const outputs = [
      image('1024.png'),
      { type: 'videoUrl', url: fake.media.url('clip.mp4') },
      image('lossy.webp'),
      image('lossless.webp'),
      image('alpha.webp'),
      image('photo.jpg'),
      { type: 'text', url: 'A caption, which is the text itself' },
    ];
    const runId = await completedRun(outputs);
    const { out } = previews(await conns.current().call('preview_media', { run_id: runId, size: 128 }));
    expect(out.images.map((i) => i.url)).toEqual(
      ['1024.png', 'lossy.webp', 'lossless.webp', 'alpha.webp'].map(fake.media.url.bind(fake.media)),
    );
    expect(out.skipped).toEqual([
      { url: fake.media.url('clip.mp4'), type: 'videoUrl', reason: 'a video: only images are previewed' },
      { url: fake.media.url('photo.jpg'), type: 'imageUrl', reason: 'over 4 images a call: preview it by its url' },
      { type: 'text', reason: 'a text output: poll_run shows its text' },
    ]);
    expect(out.summary).toContain('3 not shown: skipped says why.');
    expect(fake.media.requestsFor('clip.mp4')).toEqual([]);
    expect(fake.media.requestsFor('photo.jpg')).toEqual([]);
  });

  it('a run with only a video is a normal result: nothing previewed, the video listed, nothing fetched', async () => {
    serveImages();
    await open();
    const runId = await completedRun([{ type: 'videoUrl', url: fake.media.url('clip.mp4') }]);
    const { out } = previews(await conns.current().call('preview_media', { run_id: runId }));
    expect(out.images).toEqual([]);
    expect(out.skipped).toEqual([
      { url: fake.media.url('clip.mp4'), type: 'videoUrl', reason: 'a video: only images are previewed' },
    ]);
    expect(out.summary).toContain('No image of run');
    expect(fake.media.requests).toEqual([]);
  });

  it('a video URL given as url is listed as skipped (its body is not read), not an error', async () => {
    serveImages();
    await open();
    const { out } = previews(await conns.current().call('preview_media', { url: fake.media.url('clip.mp4') }));
    expect(out.images).toEqual([]);
    expect(out.skipped).toEqual([{ url: fake.media.url('clip.mp4'), reason: 'video/mp4: only images are previewed' }]);
  });

  it('a url is previewed on its own', async () => {
    serveImages();
    await open();
    const { out, blocks } = previews(
      await conns.current().call('preview_media', { url: fake.media.url('photo.jpg'), size: 128 }),
    );
    expect(out.images).toMatchObject([
      { url: fake.media.url('photo.jpg'), width: 600, height: 400, preview_width: 128, preview_height: 85 },
    ]);
    expect(out.run_id).toBeUndefined();
    expectQuadrants(blocks[0]!.data, 128, 85);
  });

  it('a technique run this server started is read under its technique and previewed', async () => {
    serveImages();
    await open();
    fake.runPlan = { durationMs: 0, outputs: [image('1024.png')] };
    const started = success(await conns.current().call('run_technique', VALID_TECHNIQUE_RUN));
    const { out } = previews(await conns.current().call('preview_media', { run_id: started.run_id, size: 128 }));
    expect(out.images).toHaveLength(1);
    expect(
      fake.requestsTo('GET', `/techniques/${VALID_TECHNIQUE_RUN.technique_id}/runs/${started.run_id as string}`),
    ).toHaveLength(1);
  });

  it('a run still going says so and when to look again; nothing is fetched', async () => {
    serveImages();
    await open();
    fake.runPlan = { durationMs: 60_000, outputs: [image('1024.png')] };
    const started = success(await conns.current().call('start_generation_run', VALID_START));
    const { out } = previews(await conns.current().call('preview_media', { run_id: started.run_id }));
    expect(out.images).toEqual([]);
    expect(out.status).toBe('pending');
    expect(out.next_poll_seconds).toBeGreaterThan(0);
    expect(out.summary).toMatch(/is pending .*call poll_run again.* Then call preview_media again to see its images\.$/);
    expect(fake.media.requests).toEqual([]);
  });

  it('a run FLORA does not know (perhaps a technique run another client started) says how to preview it anyway', async () => {
    await open();
    const error = failure(await conns.current().call('preview_media', { run_id: 'run_elsewhere' }));
    expect(error).toMatchObject({ code: 'not_found', status: 404 });
    expect(error.message).toBe(
      "Run run_elsewhere was not found. If it is a technique run this server did not start, FLORA serves it only under its technique: call poll_run with its technique_id, then preview_media with each output's url.",
    );
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /runs/run_elsewhere']);
  });

  it('a failed run says so with its error; nothing is fetched', async () => {
    serveImages();
    await open();
    fake.runPlan = { durationMs: 0, fail: { code: 'CONTENT_POLICY', message: 'Refused.' }, outputs: [image('1024.png')] };
    const started = success(await conns.current().call('start_generation_run', VALID_START));
    const { out } = previews(await conns.current().call('preview_media', { run_id: started.run_id }));
    expect(out.status).toBe('failed');
    expect(out.summary).toContain('failed: CONTENT_POLICY: Refused.');
    expect(fake.media.requests).toEqual([]);
  });

  it("never sends FLORA's key to the media host, though every FLORA request carries it", async () => {
    serveImages();
    fake.media.serve('hop.png', { redirect: fake.media.url('1024.png') });
    await open();
    const runId = await completedRun([image('hop.png'), image('lossy.webp')]);
    const { out } = previews(await conns.current().call('preview_media', { run_id: runId, size: 128 }));
    expect(out.images).toHaveLength(2);
    expect(mediaPaths()).toEqual(['127.0.0.1 /media/hop.png', '127.0.0.1 /media/1024.png', '127.0.0.1 /media/lossy.webp']);
    expect(fake.media.requests.map((r) => r.authorization)).toEqual([undefined, undefined, undefined]);
    expect(fake.requests.length).toBeGreaterThan(0);
    expect(fake.requests.every((r) => r.headers.authorization === `Bearer ${FAKE_KEY}`)).toBe(true);
  });
});

describe('preview_media: what it refuses to fetch', () => {
  it.each([
    [
      'a loopback host not listed in FLORA_MEDIA_HOSTS',
      (f: FakeFlora) => f.media.url('1024.png').replace('127.0.0.1', 'localhost'),
    ],
    ['a foreign https host', () => 'https://example.com/mug.png'],
    ["a look-alike of FLORA's host", () => 'https://media.flora.ai.example.com/mug.png'],
    ["plain http on FLORA's own host", () => 'http://media.flora.ai/mug.png'],
    [
      'plain http on a listed host that is not loopback',
      (f: FakeFlora) => f.media.url('1024.png').replace('127.0.0.1', 'media.example.test'),
    ],
    ['credentials in the URL', () => 'https://user:secret@media.flora.ai/mug.png'],
    ['a file: URL', () => 'file:///etc/passwd'],
    ['the cloud metadata address', () => 'http://169.254.169.254/latest/meta-data/'],
  ])('%s: refused as media_refused before any request', async (_label, urlOf) => {
    serveImages();
    const spy = fetchSpy();
    await open({ fetch: spy.fetch, env: { FLORA_MEDIA_HOSTS: '127.0.0.1,media.example.test' } });
    const error = failure(await conns.current().call('preview_media', { url: urlOf(fake) }));
    expect(error.code).toBe('media_refused');
    expect(error.message).toContain('Nothing was fetched.');
    expect(spy.urls).toEqual([]);
    expect(fake.media.requests).toEqual([]);
  });

  it('the refusal names the hosts that are fetched, and that FLORA_MEDIA_HOSTS adds more', async () => {
    await open();
    const error = failure(await conns.current().call('preview_media', { url: 'https://example.com/mug.png' }));
    expect(error.message).toBe(
      "Not fetched: example.com is not one of FLORA's media hosts; only https on media.flora.ai, ik.imagekit.io, *.flora.ai or 127.0.0.1 is fetched (the user can add hosts with FLORA_MEDIA_HOSTS). Nothing was fetched.",
    );
  });

  it.each([
    ['another loopback name', (f: FakeFlora) => f.media.url('1024.png').replace('127.0.0.1', 'localhost'), 'localhost'],
    ['a foreign https host', () => 'https://example.com/mug.png', 'example.com'],
  ])('a redirect to %s is not followed', async (_label, target, host) => {
    serveImages();
    fake.media.serve('hop.png', { redirect: target(fake) });
    const spy = fetchSpy();
    await open({ fetch: spy.fetch });
    const error = failure(await conns.current().call('preview_media', { url: fake.media.url('hop.png') }));
    expect(error.code).toBe('media_refused');
    expect(error.message).toContain(
      `redirected to ${new URL(target(fake)).protocol}//${new URL(target(fake)).host}, which is not followed`,
    );
    expect(error.message).toContain(host);
    expect(spy.urls).toEqual([fake.media.url('hop.png')]);
    expect(mediaPaths()).toEqual(['127.0.0.1 /media/hop.png']);
  });

  it('follows at most 3 redirects', async () => {
    for (let i = 0; i < 5; i++) fake.media.serve(`loop${i}.png`, { redirect: fake.media.url(`loop${i + 1}.png`) });
    await open();
    const error = failure(await conns.current().call('preview_media', { url: fake.media.url('loop0.png') }));
    expect(error).toMatchObject({ code: 'media_refused', message: expect.stringContaining('redirected more than 3 times') });
    expect(mediaPaths()).toEqual([0, 1, 2, 3].map((i) => `127.0.0.1 /media/loop${i}.png`));
  });

  it("in a run, an output off FLORA's media hosts is listed with the reason, never fetched, and the others are shown", async () => {
    serveImages();
    const spy = fetchSpy();
    await open({ fetch: spy.fetch });
    const runId = await completedRun([{ type: 'imageUrl', url: 'https://example.com/elsewhere.png' }, image('lossy.webp')]);
    const { out } = previews(await conns.current().call('preview_media', { run_id: runId }));
    expect(out.images.map((i) => i.url)).toEqual([fake.media.url('lossy.webp')]);
    expect(out.skipped).toEqual([
      {
        url: 'https://example.com/elsewhere.png',
        type: 'imageUrl',
        reason: expect.stringMatching(/^media_refused: Not fetched: example\.com/),
      },
    ]);
    expect(spy.urls.filter((u) => u.includes('example.com'))).toEqual([]);
  });
});

describe('preview_media: downloads are capped', () => {
  const OVER = 64_000_001;

  it.each([
    ['announced by Content-Length', undefined],
    ['sent without Content-Length', 'omit' as const],
  ])('a file over 64 MB (%s) is refused', async (_label, contentLength) => {
    const big = Buffer.alloc(OVER);
    fake.media.serve('huge.png', { contentType: 'image/png', bytes: () => big, contentLength });
    await open();
    const error = failure(await conns.current().call('preview_media', { url: fake.media.url('huge.png') }));
    expect(error.code).toBe('media_refused');
    expect(error.message).toMatch(/huge\.png is (64 MB|over 64 MB); preview_media downloads at most 64 MB/);
  });

  it('a download that stalls ends at FLORA_TIMEOUT_MS with a timeout error', async () => {
    fake.media.serve('slow.png', { stall: true, contentType: 'image/png' });
    await open({ env: { FLORA_TIMEOUT_MS: '300' } });
    const error = failure(await conns.current().call('preview_media', { url: fake.media.url('slow.png') }));
    expect(error).toMatchObject({ code: 'timeout', retryable: true });
    expect(error.message).toContain(`The download of ${fake.media.url('slow.png')} did not finish within 0.3 s`);
  });

  it('an image over 40 megapixels is refused before decoding', async () => {
    // Only the header of an 8000x6000 PNG: decoding would fail, so a refusal shows it was not tried.
    fake.media.serve('wide.png', { contentType: 'image/png', bytes: () => pngHeader(8000, 6000) });
    await open();
    const error = failure(await conns.current().call('preview_media', { url: fake.media.url('wide.png') }));
    expect(error).toMatchObject({ code: 'media_refused', message: expect.stringContaining('8000x6000 pixels') });
  });

  it('a host answering 404 is an upstream_error naming the URL', async () => {
    fake.media.serve('gone.png', { status: 404 });
    await open();
    const error = failure(await conns.current().call('preview_media', { url: fake.media.url('gone.png') }));
    expect(error).toMatchObject({ code: 'upstream_error', status: 404, retryable: false });
    expect(error.message).toContain(`answered HTTP 404 for ${fake.media.url('gone.png')}`);
  });
});

describe('preview_media: arguments', () => {
  it.each([
    [{}, 'run_id'],
    [{ run_id: 'run_a', url: 'https://media.flora.ai/a.png' }, 'run_id'],
    [{ url: 'https://media.flora.ai/a.png', size: 127 }, 'size'],
    [{ url: 'https://media.flora.ai/a.png', size: 1537 }, 'size'],
    [{ url: 'https://media.flora.ai/a.png', size: 500.5 }, 'size'],
    [{ run_id: 'run_../x' }, 'run_id'],
  ])('%j is invalid_arguments naming %s; nothing is sent or fetched', async (args, field) => {
    const spy = fetchSpy();
    await open({ fetch: spy.fetch });
    const error = failure(await conns.current().call('preview_media', args));
    expect(error.code).toBe('invalid_arguments');
    expect(error.fields?.map((f) => f.field)).toEqual([field]);
    expect(spy.urls).toEqual([]);
  });
});

/**
 * upload_media through a real SDK client against the fake FLORA: each way in (a URL FLORA fetches,
 * a small file as multipart, a large one by signed upload to a storage host that must never see
 * FLORA's key), and each guard on the user's disk (media by content, roots with symlinks followed,
 * size caps, HTTP mode), asserting what FLORA and the storage host received and what the agent got.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ListRootsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FAKE_KEY, type FakeFlora, faults, floraError } from '../helpers/fake-flora.js';
import { FakeProxy } from '../helpers/fake-proxy.js';
import { failure, success, useConnections } from '../helpers/harness.js';

let fake: FakeFlora;
const { open } = useConnections((f) => (fake = f));

/** A PNG signature, IHDR chunk and an IDAT chunk filling `size` bytes with a pattern (not zeros, so a mix-up shows). */
function png(size: number): Buffer {
  const head = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000049444154', 'hex');
  head.writeUInt32BE(size - head.length, head.length - 8);
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 7) % 251;
  head.copy(out);
  return out;
}

/** An MP4 (ftyp isom) header, then a pattern up to `size` bytes. */
function mp4(size: number): Buffer {
  const head = Buffer.from('000000186674797069736f6d0000020069736f6d69736f32', 'hex');
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 13) % 241;
  head.copy(out);
  return out;
}

const sha = (b: Buffer | Uint8Array) => createHash('sha256').update(b).digest('hex');
const SECRET = 'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

let dir: string;
let shared: string;
let privateDir: string;
const files = {} as Record<'png' | 'mp4' | 'notes' | 'bmp' | 'huge' | 'empty' | 'inside' | 'outside' | 'escape', string>;

beforeAll(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'flora-upload-')));
  shared = join(dir, 'shared');
  privateDir = join(dir, 'private');
  mkdirSync(shared);
  mkdirSync(privateDir);
  files.png = join(dir, 'mug.png');
  writeFileSync(files.png, png(300_000));
  files.mp4 = join(dir, 'clip.mp4');
  writeFileSync(files.mp4, mp4(5_000_000));
  files.notes = join(dir, 'notes.png');
  writeFileSync(files.notes, `${SECRET}\n`);
  files.bmp = join(dir, 'old.png');
  writeFileSync(
    files.bmp,
    Buffer.concat([Buffer.from('424d3a0000000000000036000000280000000100000001000000010018', 'hex'), Buffer.alloc(64)]),
  );
  files.huge = join(dir, 'huge.mp4');
  writeFileSync(files.huge, mp4(64));
  truncateSync(files.huge, 500_000_001); // sparse: no disk space used
  files.empty = join(dir, 'empty.png');
  writeFileSync(files.empty, '');
  files.inside = join(shared, 'inside.png');
  writeFileSync(files.inside, png(1_000));
  files.outside = join(privateDir, 'outside.png');
  writeFileSync(files.outside, png(2_000));
  files.escape = join(shared, 'escape.png');
  symlinkSync(files.outside, files.escape);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Progress = { progress: number; total?: number; message?: string };

async function upload(args: Record<string, unknown>, opts: Parameters<typeof open>[0] = undefined) {
  const c = await open(opts);
  const events: Progress[] = [];
  const result = (await c.client.callTool(
    { name: 'upload_media', arguments: { workspace_id: 'ws_studio', ...args } },
    undefined,
    { onprogress: (p) => events.push(p) },
  )) as CallToolResult;
  return { result, events };
}

/** Nothing reached FLORA or the storage host. */
function nothingSent(): void {
  expect(fake.requests).toHaveLength(0);
  expect(fake.assets.storageUploads).toHaveLength(0);
}

describe('a URL source', () => {
  it('asks FLORA to fetch it, waits with progress until the asset is ready, and says what to do with url', async () => {
    fake.assets.plan = { settleAfterMs: 500 };
    const { result, events } = await upload({ source: 'https://example.com/photos/mug.png', project_id: 'prj_s01' });
    const out = success(result);

    const [create] = fake.requestsTo('POST', '/assets');
    expect(create!.body).toStrictEqual({
      source: 'https://example.com/photos/mug.png',
      workspace_id: 'ws_studio',
      project_id: 'prj_s01',
    });
    expect(create!.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
    expect(create!.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    const asset = [...fake.assets.assets.values()][0]!;
    expect(fake.requestsTo('GET', `/assets/${asset.asset_id}`).length).toBeGreaterThanOrEqual(1);

    expect(out).toMatchObject({
      asset_id: asset.asset_id,
      status: 'ready',
      url: asset.url,
      content_type: 'image/png',
      size_bytes: 123_456,
    });
    expect(out.url).toMatch(/^https:\/\/media\.flora\.ai\/assets\//);
    expect(out.summary).toContain('params.image_url');
    expect(out.summary).toContain("also on project prj_s01's canvas");
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(events.at(-1)).toMatchObject({ progress: 100, total: 100 });
    for (let i = 1; i < events.length; i++) expect(events[i]!.progress).toBeGreaterThan(events[i - 1]!.progress);
  });

  it("a failed asset is an error that carries FLORA's failure_message verbatim", async () => {
    fake.assets.plan = { settleAfterMs: 300, fail: 'Source returned HTTP 404 (Not Found) for https://example.com/gone.png' };
    const error = failure((await upload({ source: 'https://example.com/gone.png' })).result);
    expect(fake.requestsTo('GET', '/assets/:id')).toHaveLength(1);
    expect(error.code).toBe('asset_failed');
    expect(error.message).toContain('"Source returned HTTP 404 (Not Found) for https://example.com/gone.png"');
    expect(error.retryable).toBe(false);
  });

  it('an asset FLORA no longer finds (404 while waiting) is an error naming not_found', async () => {
    fake.assets.plan = { settleAfterMs: 60_000 };
    fake.route('GET /assets/:id', () => floraError(404, 'not_found', 'Asset not found.'));
    const error = failure((await upload({ source: 'https://example.com/mug.png' })).result);
    expect(error).toMatchObject({ code: 'not_found', status: 404, retryable: false });
    expect(fake.requestsTo('GET', '/assets/:id')).toHaveLength(1);
  });

  it('still pending when the wait ends: not an error, no url, and a summary saying what to do', async () => {
    fake.assets.plan = { settleAfterMs: 60_000 };
    const out = success(
      (await upload({ source: 'https://example.com/slow.png' }, { env: { FLORA_MAX_WAIT_SECONDS: '2' } })).result,
    );
    expect(out).toMatchObject({ status: 'pending_upload' });
    expect(out).not.toHaveProperty('url');
    expect(out.summary).toContain('still pending_upload');
    expect(out.summary).toContain('Call upload_media again');
    expect(fake.requestsTo('GET', '/assets/:id')).toHaveLength(1);
  });

  it.each([
    ['http://example.com/a.png', 'plain http'],
    ['photos/mug.png', 'relative path'],
    ['~/mug.png', 'relative path'],
    ['ftp://example.com/a.png', '"ftp:" sources are not supported'],
    ['file://server/share/a.png', 'file:// URL of a file on this machine'],
  ])('refuses %s as invalid_arguments without sending anything', async (source, text) => {
    const error = failure((await upload({ source })).result);
    expect(error.code).toBe('invalid_arguments');
    expect(error.fields?.[0]?.field).toBe('source');
    expect(error.message).toContain(text);
    nothingSent();
  });
});

describe('a local file up to 4 MB', () => {
  it('goes to FLORA as multipart with its bytes, name and sniffed type, and comes back ready', async () => {
    const out = success((await upload({ source: files.png, project_id: 'prj_s02' })).result);

    const [req] = fake.requestsTo('POST', '/assets');
    expect(req!.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(req!.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
    expect(req!.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    const file = req!.form!.get('file') as File;
    expect(file.name).toBe('mug.png');
    expect(file.type).toBe('image/png');
    expect(sha(Buffer.from(await file.arrayBuffer()))).toBe(sha(png(300_000)));
    expect(req!.form!.get('workspace_id')).toBe('ws_studio');
    expect(req!.form!.get('project_id')).toBe('prj_s02');

    expect(out).toMatchObject({ status: 'ready', content_type: 'image/png', size_bytes: 300_000 });
    expect(out.url).toMatch(/^https:\/\/media\.flora\.ai\/.*mug\.png$/);
    expect(fake.assets.storageUploads).toHaveLength(0);
    expect(fake.requests).toHaveLength(1);
  });

  it('takes a file:// URL too', async () => {
    const out = success((await upload({ source: pathToFileURL(files.png).href })).result);
    expect(out.status).toBe('ready');
    expect(fake.requestsTo('POST', '/assets')).toHaveLength(1);
  });

  it('a retried upload (503) sends the whole file again, with the same Idempotency-Key', async () => {
    fake.once('POST /assets', faults.html(503));
    success((await upload({ source: files.png })).result);
    const [first, second] = fake.requestsTo('POST', '/assets');
    expect(second!.headers['idempotency-key']).toBe(first!.headers['idempotency-key']);
    expect(sha(Buffer.from(await (second!.form!.get('file') as File).arrayBuffer()))).toBe(sha(png(300_000)));
  });
});

describe('a local file over 4 MB', () => {
  it("is reserved, sent to the storage host without FLORA's key (fields first, file last), then completed", async () => {
    const out = success((await upload({ source: files.mp4 })).result);

    const [reserve] = fake.requestsTo('POST', '/assets');
    expect(reserve!.body).toStrictEqual({
      source: 'signed-url',
      workspace_id: 'ws_studio',
      file_name: 'clip.mp4',
      content_type: 'video/mp4',
    });
    expect(reserve!.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    const asset = [...fake.assets.assets.values()][0]!;

    const [put] = fake.assets.storageUploads;
    expect(put!.authorization).toBeUndefined();
    expect(put!.fields).toEqual([
      ['key', `uploads/${asset.asset_id}/clip.mp4`],
      ['policy', 'eyJleHBpcmF0aW9uIjoiLi4uIn0='],
      ['x-goog-signature', 'c2lnbmF0dXJl'],
    ]);
    expect(put!.fileField).toBe('file');
    const form = await new Response(put!.body, { headers: { 'content-type': put!.contentType! } }).formData();
    const file = form.get('file') as File;
    expect(file.type).toBe('video/mp4');
    expect(sha(Buffer.from(await file.arrayBuffer()))).toBe(sha(mp4(5_000_000)));
    expect(put!.fileBytes).toBe(5_000_000);

    expect(fake.requestsTo('POST', `/assets/${asset.asset_id}/complete`)).toHaveLength(1);
    expect(out).toMatchObject({ asset_id: asset.asset_id, status: 'ready', content_type: 'video/mp4', size_bytes: 5_000_000 });
    expect(out.summary).toContain('technique videoUrl input');
  });

  it('goes as a PUT of the bare file when FLORA answers with upload_url', async () => {
    fake.assets.signedStyle = 'put';
    const out = success((await upload({ source: files.mp4 })).result);
    const [put] = fake.assets.storageUploads;
    expect(put).toMatchObject({ method: 'PUT', authorization: undefined, contentType: 'video/mp4', bytes: 5_000_000 });
    expect(sha(put!.body!)).toBe(sha(mp4(5_000_000)));
    expect(out.status).toBe('ready');
  });

  it('a storage host that refuses (403, expired policy) is an error quoting its reason; nothing is completed', async () => {
    fake.assets.storageReply = () => ({
      status: 403,
      headers: { 'content-type': 'application/xml' },
      body: '<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Invalid according to Policy: Policy expired.</Message></Error>',
    });
    const error = failure((await upload({ source: files.mp4 })).result);
    expect(error).toMatchObject({ code: 'upstream_error', status: 403, retryable: false });
    expect(error.message).toContain('refused the upload with HTTP 403 ("Invalid according to Policy: Policy expired.")');
    expect(error.message).toContain('call upload_media again');
    expect(fake.assets.storageUploads).toHaveLength(1);
    expect(fake.requestsTo('POST', '/assets/:id/complete')).toHaveLength(0);
  });

  it('a storage host that fails once (503) gets the whole file again', async () => {
    let calls = 0;
    fake.assets.storageReply = () => (++calls === 1 ? { status: 503 } : undefined);
    success((await upload({ source: files.mp4 })).result);
    expect(fake.assets.storageUploads.map((u) => u.fileBytes)).toEqual([5_000_000, 5_000_000]);
  });
});

describe('a local file over 4 MB, behind a proxy', () => {
  let proxy: FakeProxy;
  beforeAll(async () => {
    proxy = await FakeProxy.start();
  });
  afterAll(() => proxy.close());
  beforeEach(() => proxy.reset());
  /** FLORA addressed as localhost, so NO_PROXY can tell it from the storage host (the fake's 127.0.0.1 origin). */
  const floraAtLocalhost = () => fake.baseUrl.replace('127.0.0.1', 'localhost');

  it("the storage upload goes through the proxy too, still without FLORA's key", async () => {
    success((await upload({ source: files.mp4 }, { env: { HTTP_PROXY: proxy.url() } })).result);
    const asset = [...fake.assets.assets.values()][0]!;
    expect(proxy.requests.map((r) => `${r.method} ${r.target.replace(fake.origin, '')}`)).toEqual([
      'POST /api/v1/assets',
      `POST ${fake.assets.storageUploads[0]!.path}`,
      `POST /api/v1/assets/${asset.asset_id}/complete`,
    ]);
    const storage = proxy.requests[1]!;
    expect(storage.headers.authorization).toBeUndefined();
    expect(JSON.stringify(storage.headers)).not.toContain(FAKE_KEY);
    expect(fake.assets.storageUploads.map((u) => u.fileBytes)).toEqual([5_000_000]);
  });

  it('NO_PROXY is applied per host: FLORA exempt and called directly, the storage host through the proxy', async () => {
    const env = { FLORA_BASE_URL: floraAtLocalhost(), HTTP_PROXY: proxy.url(), NO_PROXY: 'localhost' };
    success((await upload({ source: files.mp4 }, { env })).result);
    expect(proxy.requests.map((r) => r.target)).toEqual([`${fake.origin}${fake.assets.storageUploads[0]!.path}`]);
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /assets',
      expect.stringMatching(/^POST \/assets\/[^/]+\/complete$/),
    ]);
  });

  it('a proxy refusing the storage upload with 407 is proxy_auth_required naming the storage host; nothing is completed', async () => {
    proxy.credentials = 'corp:s3cret';
    const env = { FLORA_BASE_URL: floraAtLocalhost(), HTTP_PROXY: proxy.url(), NO_PROXY: 'localhost' };
    const error = failure((await upload({ source: files.mp4 }, { env })).result);
    expect(error).toMatchObject({ code: 'proxy_auth_required', status: 407, retryable: false });
    expect(error.message).toContain(`(from HTTP_PROXY) answered 407 Proxy Authentication Required`);
    expect(error.message).toContain(`nothing reached ${new URL(fake.origin).host}`);
    expect(proxy.requests.map((r) => r.refused)).toEqual([407]);
    expect(fake.assets.storageUploads).toHaveLength(0);
    expect(fake.requestsTo('POST', '/assets/:id/complete')).toHaveLength(0);
  });
});

describe('guards on the local disk', () => {
  it('refuses a non-media file named .png by its content, without quoting it, before anything is sent', async () => {
    const { result } = await upload({ source: files.notes });
    const error = failure(result);
    expect(error.code).toBe('source_refused');
    expect(error.message).toContain(`${files.notes} is not media FLORA accepts (judged by its content, not its name)`);
    expect(JSON.stringify(result)).not.toContain('AWS_SECRET');
    expect(JSON.stringify(result)).not.toContain('wJalrXUtnFEMI');
    nothingSent();
  });

  it('names a media type FLORA does not take (BMP), so the agent can convert it', async () => {
    const error = failure((await upload({ source: files.bmp })).result);
    expect(error.message).toContain('is image/bmp, which FLORA does not take');
    nothingSent();
  });

  it('refuses a file over the 500 MB cap before any request', async () => {
    const error = failure((await upload({ source: files.huge })).result);
    expect(error.code).toBe('source_refused');
    expect(error.message).toContain('is 500 MB; upload_media takes files up to 500 MB');
    nothingSent();
  });

  it.each([
    ['an empty file', () => files.empty, 'is empty'],
    ['a directory', () => dir, 'is not a regular file'],
    ['a missing file', () => join(dir, 'nope.png'), 'No file at'],
  ])('refuses %s', async (_label, path, text) => {
    const error = failure((await upload({ source: path() })).result);
    expect(error.code).toBe('source_refused');
    expect(error.message).toContain(text);
    nothingSent();
  });

  it('over HTTP refuses any local path before touching the disk, and still takes URLs', async () => {
    const error = failure((await upload({ source: files.png }, { transport: 'http' })).result);
    expect(error.code).toBe('source_refused');
    expect(error.message).toContain('this server runs over HTTP');
    expect(failure((await upload({ source: join(dir, 'nope.png') }, { transport: 'http' })).result).message).toContain(
      'this server runs over HTTP',
    );
    nothingSent();
    fake.assets.plan = { settleAfterMs: 0 };
    expect(success((await upload({ source: 'https://example.com/mug.png' })).result).status).toBe('ready');
  });
});

describe('MCP roots', () => {
  const rootsOf = (...paths: string[]) => paths.map((p) => pathToFileURL(p).href);

  it('a client that declares roots: a file inside one is sent, one outside is refused', async () => {
    const opts = { roots: rootsOf(shared) };
    expect(success((await upload({ source: files.inside }, opts)).result).status).toBe('ready');
    const error = failure((await upload({ source: files.outside })).result);
    expect(error.code).toBe('source_refused');
    expect(error.message).toContain(`is outside the folders the client shares with this server (its MCP roots: ${shared})`);
    expect(fake.requests).toHaveLength(1);
  });

  it('a symlink inside a root that points outside it is refused (symlinks are followed first)', async () => {
    const error = failure((await upload({ source: files.escape }, { roots: rootsOf(shared) })).result);
    expect(error.code).toBe('source_refused');
    expect(error.message).toContain('outside the folders the client shares');
    expect(error.message).not.toContain(files.outside);
    nothingSent();
  });

  it('a missing path outside the roots gets the roots answer, not whether it exists', async () => {
    const error = failure((await upload({ source: join(privateDir, 'nope.png') }, { roots: rootsOf(shared) })).result);
    expect(error.message).toContain('outside the folders the client shares');
    nothingSent();
  });

  it('a client without roots may send a file from anywhere', async () => {
    expect(success((await upload({ source: files.outside })).result).status).toBe('ready');
  });

  it('roots are listed once, then again after notifications/roots/list_changed', async () => {
    const roots = rootsOf(shared);
    const c = await open({ roots });
    let listed = 0;
    c.client.setRequestHandler(ListRootsRequestSchema, () => {
      listed++;
      return { roots: roots.map((uri) => ({ uri })) };
    });
    failure((await upload({ source: files.outside })).result);
    success((await upload({ source: files.inside })).result);
    expect(listed).toBe(1);

    roots.push(pathToFileURL(privateDir).href);
    await c.client.sendRootsListChanged();
    expect(success((await upload({ source: files.outside })).result).status).toBe('ready');
    expect(listed).toBe(2);
  });

  it('a client that declares roots but fails to list them: local files are refused, and the next call asks again', async () => {
    const c = await open({ roots: [] });
    let listed = 0;
    c.client.setRequestHandler(ListRootsRequestSchema, () => {
      listed++;
      if (listed === 1) throw new Error('roots are unavailable');
      return { roots: [{ uri: pathToFileURL(dir).href }] };
    });
    const error = failure((await upload({ source: files.png })).result);
    expect(error.code).toBe('source_refused');
    expect(error.message).toContain('declares MCP roots but did not list them');
    nothingSent();

    // The failed listing was not kept: the client is asked again, and its answer is used.
    expect(success((await upload({ source: files.png })).result).status).toBe('ready');
    expect(listed).toBe(2);
  });

  it('a listing that fails after the roots changed does not drop the newer listing: no extra roots/list', async () => {
    const c = await open({ roots: [] });
    let listed = 0;
    let failFirst: (err: Error) => void = () => {};
    c.client.setRequestHandler(ListRootsRequestSchema, () => {
      listed++;
      if (listed === 1) return new Promise<never>((_resolve, reject) => (failFirst = reject));
      return { roots: [{ uri: pathToFileURL(dir).href }] };
    });

    const first = upload({ source: files.png });
    while (listed < 1) await new Promise((r) => setImmediate(r));
    await c.client.sendRootsListChanged();
    // Asked anew after the change: this call gets the new listing.
    expect(success((await upload({ source: files.png })).result).status).toBe('ready');
    failFirst(new Error('roots are unavailable'));
    expect(failure((await first).result).code).toBe('source_refused');

    // The old listing's failure left the new one in place.
    expect(success((await upload({ source: files.png })).result).status).toBe('ready');
    expect(listed).toBe(2);
  });

  it('a client that declares roots but never answers roots/list: refused once the wait for it ends (10 s; 300 ms here)', async () => {
    const c = await open({ roots: [], rootsTimeoutMs: 300 });
    c.client.setRequestHandler(ListRootsRequestSchema, () => new Promise<never>(() => {}));
    // Without the server's own cap the SDK would wait 60 s, and this test would time out first.
    const error = failure((await upload({ source: files.png })).result);
    expect(error.code).toBe('source_refused');
    expect(error.message).toContain('declares MCP roots but did not list them');
    nothingSent();
  });
});

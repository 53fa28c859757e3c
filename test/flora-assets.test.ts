/**
 * FloraClient's asset methods and the storage upload, below MCP: what an unknown outcome of an
 * asset POST tells the agent (nothing like a billed start's advice), the signed-upload answer in
 * either spelling, and the storage host kept at arm's length (no key, no redirects, https only).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FloraClient } from '../src/flora/client.js';
import { silentLogger } from '../src/log.js';
import { storageTargetOf, uploadToStorage } from '../src/flora/storage-upload.js';
import { type FakeFlora, faults } from './helpers/fake-flora.js';
import { fastClient, rejection } from './helpers/flora-client.js';
import { useFakeFlora } from './helpers/harness.js';

let fake: FakeFlora;
useFakeFlora((f) => (fake = f));

function makeClient(timeoutMs = 5_000): FloraClient {
  return fastClient(fake, { timeoutMs });
}

const failure = rejection;

const PLACE = { workspace_id: 'ws_studio', source: 'https://example.com/a.png' };

describe('asset POSTs whose outcome is unknown', () => {
  it('a timeout says calling upload_media again is safe, and carries no idempotency_key (the tool takes none)', async () => {
    fake.route('POST /assets', faults.hang);
    const err = await failure(() => makeClient(200).createAssetFromUrl(PLACE, 'key-1'));
    expect(err.code).toBe('timeout');
    expect(err.message).toContain('The asset may or may not have been created. Calling upload_media again is safe');
    expect(err.message).not.toContain('start_generation_run');
    expect(err.idempotencyKey).toBeUndefined();
    const keys = fake.requestsTo('POST', '/assets').map((r) => r.headers['idempotency-key']);
    expect(keys.length).toBeGreaterThanOrEqual(1);
    expect(new Set(keys)).toEqual(new Set(['key-1']));
  });

  it('a retry answered idempotency_duplicate says the asset was made but its answer lost, and to call again', async () => {
    fake.once('POST /assets', (_req, res, ctx) => {
      ctx.defaultReply();
      res.socket?.resetAndDestroy();
    });
    const err = await failure(() => makeClient().createAssetFromUrl(PLACE, 'key-2'));
    expect(err).toMatchObject({ code: 'idempotency_duplicate', retryable: true });
    expect(err.message).toContain('created the asset, but its answer was lost');
    expect(err.message).toContain('Call upload_media again');
    expect(fake.assets.assets.size).toBe(1);
  });
});

describe('the signed-upload answer', () => {
  it('is read in snake_case, camelCase, or as a PUT upload_url', () => {
    const fields = { key: 'k', policy: 'p' };
    expect(storageTargetOf({ asset_id: 'a', upload: { url: 'https://s/u', file_field: 'f', form_fields: fields } })).toEqual({
      method: 'POST',
      url: 'https://s/u',
      fileField: 'f',
      fields,
    });
    expect(storageTargetOf({ asset_id: 'a', upload: { url: 'https://s/u', fileField: 'g', formFields: fields } })).toMatchObject({
      fileField: 'g',
      fields,
    });
    expect(storageTargetOf({ asset_id: 'a', upload_url: 'https://s/put' })).toEqual({ method: 'PUT', url: 'https://s/put' });
    expect(() => storageTargetOf({ asset_id: 'a' })).toThrow('names no upload URL');
  });
});

describe('the storage host', () => {
  let storage: Server;
  let origin: string;
  const seen: Array<{ url: string; authorization: string | undefined }> = [];

  beforeAll(async () => {
    storage = createServer((req, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
      req.resume();
      req.on('end', () => {
        if (req.url === '/redirect') {
          res.writeHead(307, { location: `${origin}/elsewhere` });
          res.end();
        } else {
          res.writeHead(204);
          res.end();
        }
      });
    });
    await new Promise<void>((resolve) => storage.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(storage.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    storage.closeAllConnections();
    await new Promise<void>((resolve) => storage.close(() => resolve()));
  });

  const opts = { fetch: globalThis.fetch, timeoutMs: 5_000, maxRetries: 2, baseBackoffMs: 5, log: silentLogger };
  const file = new Blob([Buffer.from('%PDF-1.7\n')], { type: 'application/pdf' });

  it('a redirect is not followed: an error, and the redirect target never hears from us', async () => {
    seen.length = 0;
    const err = await failure(() => uploadToStorage({ method: 'PUT', url: `${origin}/redirect` }, file, 'a.pdf', opts));
    expect(err).toMatchObject({ code: 'upstream_error', retryable: false });
    expect(err.message).toContain('answered the upload with a redirect, which is not followed');
    expect(seen.map((s) => s.url)).toEqual(['/redirect']);
  });

  it('plain http is refused unless the host is loopback, before anything is sent', async () => {
    const err = await failure(() => uploadToStorage({ method: 'PUT', url: 'http://storage.example.com/u' }, file, 'a.pdf', opts));
    expect(err.message).toContain('not https (http://storage.example.com)');
  });

  it("FloraClient.storageUpload never sends FLORA's key", async () => {
    seen.length = 0;
    await makeClient().storageUpload(
      { method: 'POST', url: `${origin}/ok`, fileField: 'file', fields: { key: 'k' } },
      file,
      'a.pdf',
    );
    expect(seen).toEqual([{ url: '/ok', authorization: undefined }]);
  });
});

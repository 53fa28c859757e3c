/**
 * The fake FLORA's assets (shared/flora-media-techniques.md §2): POST /assets as multipart (≤ 4 MB,
 * ready at once), from a URL (pending_upload, then ready or failed by `plan`), or as a signed
 * upload whose file goes to a storage endpoint of its own, then POST /assets/{id}/complete; and
 * GET /assets/{id}. The storage endpoint reads its body as a stream: it records whether an
 * Authorization header arrived, the form fields, where the file started and how many bytes came,
 * and keeps the body only up to `keepBytes`, so a 100 MB upload costs this process nothing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { floraError, type RecordedRequest, type Reply } from './fake-flora.js';

export const DIRECT_LIMIT_BYTES = 4_000_000;
export const STORAGE_PATH = '/storage/upload';
const HEAD_BYTES = 64 * 1024;

export interface FakeAsset {
  asset_id: string;
  workspace_id: string;
  project_id: string | null;
  status: 'pending_upload' | 'ready' | 'failed';
  url: string | null;
  file_name: string | null;
  content_type: string | null;
  size_bytes: number | null;
  uploaded_via: 'direct' | 'url' | 'signed-url';
  created_at: number;
  failure_message: string | null;
  /** URL assets: when FLORA has fetched the source, and what it then makes of it. */
  settlesAt?: number;
  fail?: string;
  /** Signed uploads: the storage key the upload's form must carry. */
  storageKey?: string;
}

/** How the next URL assets behave; tests change it before an upload. */
export interface AssetPlan {
  /** 0: ready (or failed) in FLORA's first answer; more: pending_upload until then. */
  settleAfterMs: number;
  /** The failure_message FLORA gives, when the source cannot be fetched. */
  fail?: string;
}

export interface StorageUpload {
  method: string;
  path: string;
  /** The Authorization header as received: FLORA's key must never reach a storage host. */
  authorization: string | undefined;
  contentType: string | undefined;
  /** Body bytes received. */
  bytes: number;
  /** Form fields in the order they came (POST), read from the head of the body. */
  fields: Array<[string, string]>;
  /** Form field the file came under, and where in the body its bytes began. */
  fileField?: string;
  fileStart?: number;
  /** The whole body, when it was at most keepBytes. */
  body?: Buffer;
  /** The file's bytes: the body less the multipart framing (POST) or the body itself (PUT). */
  fileBytes: number;
}

export class FakeAssets {
  readonly assets = new Map<string, FakeAsset>();
  readonly storageUploads: StorageUpload[] = [];
  plan: AssetPlan = { settleAfterMs: 0 };
  /** 'post' answers a signed upload with an `upload` form target, 'put' with an `upload_url`. */
  signedStyle: 'post' | 'put' = 'post';
  /** Storage bodies up to this size are kept for inspection; longer ones are counted and dropped. */
  keepBytes = 16 * 1024 * 1024;
  /** Answers the storage upload instead of 204 (e.g. a 403 for an expired policy). */
  storageReply: ((upload: StorageUpload) => Reply | undefined) | undefined;
  private readonly idempotencyKeys = new Set<string>();
  private counter = 0;

  constructor(private readonly origin: string) {}

  reset(): void {
    this.assets.clear();
    this.storageUploads.length = 0;
    this.idempotencyKeys.clear();
    this.plan = { settleAfterMs: 0 };
    this.signedStyle = 'post';
    this.keepBytes = 16 * 1024 * 1024;
    this.storageReply = undefined;
  }

  /** The asset as GET /assets/{id} shows it now. */
  view(asset: FakeAsset, now = Date.now()): Record<string, unknown> {
    if (asset.settlesAt !== undefined && asset.status === 'pending_upload' && now >= asset.settlesAt) {
      if (asset.fail !== undefined) {
        asset.status = 'failed';
        asset.failure_message = asset.fail;
      } else {
        asset.status = 'ready';
        asset.url = this.mediaUrl(asset);
        asset.size_bytes = 123_456;
      }
    }
    const { settlesAt: _s, fail: _f, storageKey: _k, ...wire } = asset;
    return wire;
  }

  create(req: RecordedRequest): Reply {
    const key = req.headers['idempotency-key'];
    if (typeof key === 'string') {
      if (this.idempotencyKeys.has(key)) return floraError(409, 'idempotency_duplicate', 'Duplicate idempotency key.');
    }
    const reply = req.form ? this.createDirect(req.form) : this.createFromJson(req);
    if (typeof key === 'string' && reply.status < 300) this.idempotencyKeys.add(key);
    return reply;
  }

  get(id: string): Reply {
    const asset = this.assets.get(id);
    return asset ? { status: 200, body: this.view(asset) } : floraError(404, 'not_found', 'Asset not found.');
  }

  complete(id: string): Reply {
    const asset = this.assets.get(id);
    if (!asset) return floraError(404, 'not_found', 'Asset not found.');
    if (asset.uploaded_via !== 'signed-url' || asset.status !== 'pending_upload') {
      return floraError(409, 'conflict', 'Asset is not awaiting an upload.');
    }
    const upload = this.storageUploads.findLast(
      (u) => u.fields.some(([k, v]) => k === 'key' && v === asset.storageKey) || u.path === `/storage/put/${id}`,
    );
    if (!upload) return floraError(400, 'upload_not_found', 'No file was uploaded for this asset.');
    asset.status = 'ready';
    asset.size_bytes = upload.fileBytes;
    asset.url = this.mediaUrl(asset);
    return { status: 200, body: this.view(asset) };
  }

  /** The storage host: streams the body, never buffering more than keepBytes of it. */
  async handleStorage(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const contentType = req.headers['content-type'];
    const kept: Buffer[] = [];
    let bytes = 0;
    let head = Buffer.alloc(0);
    for await (const chunk of req as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (head.length < HEAD_BYTES) head = Buffer.concat([head, chunk.subarray(0, HEAD_BYTES - head.length)]);
      if (bytes <= this.keepBytes) kept.push(chunk);
      else kept.length = 0;
    }
    const path = (req.url ?? '').split('?')[0] ?? '';
    const upload: StorageUpload = {
      method: req.method ?? '',
      path,
      authorization: req.headers.authorization,
      contentType,
      bytes,
      fields: [],
      fileBytes: bytes,
      ...(bytes <= this.keepBytes ? { body: Buffer.concat(kept) } : {}),
    };
    const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType ?? '');
    if (req.method === 'POST' && boundary) readForm(upload, head, (boundary[1] ?? boundary[2])!.trim());
    this.storageUploads.push(upload);
    const reply = this.storageReply?.(upload) ?? { status: 204 };
    const text = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    res.writeHead(reply.status, { 'content-length': Buffer.byteLength(text), ...reply.headers });
    res.end(text);
  }

  private createDirect(form: FormData): Reply {
    const file = form.get('file');
    const workspace = form.get('workspace_id');
    const project = form.get('project_id');
    const fields: Array<{ field: string; message: string }> = [];
    if (!(file instanceof File)) fields.push({ field: 'file', message: 'file is required.' });
    if (typeof workspace !== 'string' || !/^ws_\S+$/.test(workspace))
      fields.push({ field: 'workspace_id', message: 'workspace_id must start with ws_.' });
    if (project !== null && (typeof project !== 'string' || !/^prj_\S+$/.test(project)))
      fields.push({ field: 'project_id', message: 'project_id must start with prj_.' });
    if (fields.length > 0) return floraError(400, 'input_validation_error', 'Invalid upload.', fields);
    const f = file as File;
    if (f.size > DIRECT_LIMIT_BYTES) {
      return floraError(413, 'payload_too_large', 'Direct uploads take files up to 4 MB; use a signed upload.');
    }
    const asset = this.newAsset(workspace as string, project as string | null, 'direct', 'ready');
    Object.assign(asset, { file_name: f.name, content_type: f.type, size_bytes: f.size });
    asset.url = this.mediaUrl(asset);
    return { status: 201, body: this.view(asset) };
  }

  private createFromJson(req: RecordedRequest): Reply {
    if (req.rawBody !== '' && req.body === undefined) return floraError(400, 'invalid_json', 'Request body is not valid JSON.');
    const b = (req.body ?? {}) as Record<string, unknown>;
    const fields: Array<{ field: string; message: string }> = [];
    if (typeof b.workspace_id !== 'string' || !/^ws_\S+$/.test(b.workspace_id))
      fields.push({ field: 'workspace_id', message: 'workspace_id must start with ws_.' });
    if (b.project_id !== undefined && (typeof b.project_id !== 'string' || !/^prj_\S+$/.test(b.project_id)))
      fields.push({ field: 'project_id', message: 'project_id must start with prj_.' });
    const signed = b.source === 'signed-url';
    if (signed) {
      if (typeof b.file_name !== 'string' || b.file_name === '')
        fields.push({ field: 'file_name', message: 'file_name is required.' });
      if (typeof b.content_type !== 'string') fields.push({ field: 'content_type', message: 'content_type is required.' });
    } else if (typeof b.source !== 'string' || !b.source.startsWith('https://')) {
      fields.push({ field: 'source', message: 'source must be an https URL or "signed-url".' });
    }
    if (fields.length > 0) return floraError(400, 'input_validation_error', 'Invalid request body.', fields);
    const project = (b.project_id as string | undefined) ?? null;

    if (!signed) {
      const asset = this.newAsset(b.workspace_id as string, project, 'url', 'pending_upload');
      const name = new URL(b.source as string).pathname.split('/').pop() || 'download';
      Object.assign(asset, { file_name: name, content_type: name.endsWith('.png') ? 'image/png' : 'image/jpeg' });
      asset.settlesAt = asset.created_at + this.plan.settleAfterMs;
      if (this.plan.fail !== undefined) asset.fail = this.plan.fail;
      // Settled by the time FLORA answers when settleAfterMs is 0; else pending_upload first.
      return { status: 201, body: this.view(asset) };
    }

    const asset = this.newAsset(b.workspace_id as string, project, 'signed-url', 'pending_upload');
    Object.assign(asset, { file_name: b.file_name, content_type: b.content_type });
    asset.storageKey = `uploads/${asset.asset_id}/${b.file_name as string}`;
    const expires_at = new Date(Date.now() + 15 * 60_000).toISOString();
    if (this.signedStyle === 'put') {
      return {
        status: 201,
        body: {
          asset_id: asset.asset_id,
          status: asset.status,
          expires_at,
          upload_url: `${this.origin}/storage/put/${asset.asset_id}`,
        },
      };
    }
    return {
      status: 201,
      body: {
        asset_id: asset.asset_id,
        status: asset.status,
        expires_at,
        upload: {
          url: `${this.origin}${STORAGE_PATH}`,
          method: 'POST',
          content_type: 'multipart/form-data',
          file_field: 'file',
          form_fields: { key: asset.storageKey, policy: 'eyJleHBpcmF0aW9uIjoiLi4uIn0=', 'x-goog-signature': 'c2lnbmF0dXJl' },
        },
      },
    };
  }

  private newAsset(workspace: string, project: string | null, via: FakeAsset['uploaded_via'], status: FakeAsset['status']) {
    const asset: FakeAsset = {
      asset_id: `asset_${(++this.counter).toString(36)}${Math.random().toString(36).slice(2, 8)}`,
      workspace_id: workspace,
      project_id: project,
      status,
      url: null,
      file_name: null,
      content_type: null,
      size_bytes: null,
      uploaded_via: via,
      created_at: Date.now(),
      failure_message: null,
    };
    this.assets.set(asset.asset_id, asset);
    return asset;
  }

  /** A FLORA media URL: a date and an opaque segment, never to be built by a client. */
  private mediaUrl(asset: FakeAsset): string {
    return `https://media.flora.ai/assets/2026-11-29/${asset.asset_id.slice(6)}x9f/${asset.file_name ?? 'file'}`;
  }
}

/**
 * The form fields before the file, from the head of a multipart body, and where the file's bytes
 * begin; the file's size is what lies between there and the closing boundary.
 */
function readForm(upload: StorageUpload, head: Buffer, boundary: string): void {
  const delimiter = Buffer.from(`--${boundary}`);
  let at = head.indexOf(delimiter);
  while (at >= 0) {
    const headersStart = at + delimiter.length + 2;
    const headersEnd = head.indexOf('\r\n\r\n', headersStart);
    if (headersEnd < 0) return;
    const partHeaders = head.subarray(headersStart, headersEnd).toString('utf8');
    const name = /name="([^"]*)"/.exec(partHeaders)?.[1] ?? '';
    const dataStart = headersEnd + 4;
    if (/filename="/.test(partHeaders)) {
      upload.fileField = name;
      upload.fileStart = dataStart;
      // "\r\n--boundary--\r\n" closes the body after the file.
      upload.fileBytes = upload.bytes - dataStart - (delimiter.length + 6);
      return;
    }
    const next = head.indexOf(delimiter, dataStart);
    if (next < 0) return;
    upload.fields.push([name, head.subarray(dataStart, next - 2).toString('utf8')]);
    at = next;
  }
}

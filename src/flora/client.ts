/**
 * FloraClient: one method per FLORA endpoint and one private request() that owns auth, URL
 * building, timeouts, retries and error mapping. It knows nothing of MCP.
 *
 * Money rules enforced here:
 * - a start carries an idempotency key, the same one on every retry of that call: in the
 *   Idempotency-Key header, or in the body's idempotency_key on the one route FLORA measured to
 *   honour only that (POST /techniques/{id}/runs);
 * - only 429/500/502/503/504 and connection failures are retried, bounded in attempts and time;
 * - a retry answered `idempotency_duplicate` means an earlier attempt reached FLORA; that is
 *   reported as such, never papered over with another start;
 * - the key goes only to FLORA_BASE_URL's origin: redirects are not followed.
 */
import type * as z from 'zod';
import {
  Asset,
  type GenerateBody,
  GenerationList,
  SignedUpload,
  ModelList,
  ProjectList,
  WorkspaceList,
  RunStatus,
  StartRunResponse,
  type GenerationType,
  Technique,
  TechniqueList,
  type TechniqueRunBody,
  TechniqueRunList,
  TechniqueRunStarted,
  type TechniqueStartBody,
} from './schemas.js';
import type { Config } from '../config.js';
import {
  CancelledError,
  FloraApiError,
  FloraError,
  InvalidArgumentsError,
  LostStartError,
  NetworkError,
  TimeoutError,
  UpstreamError,
} from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { sleep } from '../sleep.js';
import { NO_PROXY, proxyFor, usesProxy, type ProxyConfig } from '../proxy.js';
import { directGets } from './direct-get.js';
import { proxiedFetch } from './proxy-fetch.js';
import { type ApiTransport, errorFromResponse, networkError, parseSuccess, proxyAuthRequired, readBody } from './responses.js';
import { storageTargetOf, uploadToStorage, type StorageTarget } from './storage-upload.js';
import { downloadMedia, type MediaDownload } from './media-download.js';
import { SERVER_NAME, VERSION } from '../version.js';

export const RUN_ID_RULE = 'must be a FLORA run ID like "run_abc123": "run_" followed by no whitespace, /, ?, #, %, \\ or ".."';
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);
/**
 * FLORA's own pattern is ^run_\S+$. On top of it we refuse anything that could change which URL
 * is requested once the ID is put in a path: / ? # % \ and "..". encodeURIComponent does the rest.
 */
export const RUN_ID_PATTERN = /^run_(?!.*\.\.)[^\s/?#%\\\u0000-\u001f\u007f]+$/;
/** An asset ID FLORA sent us, checked as run IDs are before it goes into a path. */
const ASSET_ID_PATTERN = /^(?!.*\.\.)[^\s/?#%\\\u0000-\u001f\u007f]+$/;

/** FLORA's ^tech_\S+$, narrowed as RUN_ID_PATTERN is: the ID goes into a path. */
export const TECHNIQUE_ID_PATTERN = /^tech_(?!.*\.\.)[^\s/?#%\\\u0000-\u001f\u007f]+$/;
export const TECHNIQUE_ID_RULE =
  'must be a FLORA technique ID like "tech_product-shot" (from list_techniques): "tech_" followed by no whitespace, /, ?, #, %, \\ or ".."';

/** What a start starts, in the words its errors use to tell the agent what to do next. */
export interface StartWords {
  /** "generation", "technique run". */
  noun: string;
  /** The tool to call again with the idempotency_key. */
  tool: string;
  /** Where a run whose answer was lost shows up. */
  history: string;
}

export const GENERATION_WORDS: StartWords = {
  noun: 'generation',
  tool: 'start_generation_run',
  history: "the project's recent generations",
};
export const TECHNIQUE_RUN_WORDS: StartWords = {
  noun: 'technique run',
  tool: 'run_technique',
  history: "the workspace's recent technique runs",
};

export interface FloraClientOptions {
  apiKey: string;
  baseUrl: URL;
  timeoutMs: number;
  maxRetries: number;
  /** Bound on one call's total time across attempts and waits; at least timeoutMs. */
  maxTotalMs?: number;
  /** First backoff step; doubled per retry, capped at maxBackoffMs, minus up to 25 % jitter. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** The longest server-requested wait we sit out inside one call; longer is handed to the agent. */
  maxRetryAfterMs?: number;
  fetch?: typeof fetch;
  /** HTTPS_PROXY, HTTP_PROXY and NO_PROXY: every request, to FLORA or a storage host, follows them. */
  proxy?: ProxyConfig;
  logger?: Logger;
  random?: () => number;
  /** FLORA_MEDIA_HOSTS: hosts downloadMedia may fetch besides FLORA's own. */
  mediaHosts?: readonly string[];
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Per-call overrides, for lookups that must stay short (pre-flight checks). */
  timeoutMs?: number;
  maxRetries?: number;
  /**
   * Told of every 429 this call meets, retried or not, with FLORA's Retry-After in seconds: a
   * batch slows all its starts down when one of them is throttled.
   */
  onRateLimited?: (retryAfterSeconds: number | undefined) => void;
}

interface RequestSpec<T> {
  method: 'GET' | 'POST';
  path: string[];
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** A multipart body instead of JSON, built anew for every attempt (a streamed file is read again). */
  form?: () => FormData;
  idempotencyKey?: string;
  /**
   * What a keyed POST creates, for the advice on an unknown outcome. A generation (the default) is
   * billed, so a retry must reuse the key; an asset is not, so calling again is simply safe.
   */
  creates?: 'generation' | 'asset';
  /**
   * Where idempotencyKey travels: the Idempotency-Key header (default), or the body's
   * idempotency_key field. Either way it is the same on every retry, and a retry refused as a
   * duplicate means an earlier attempt landed.
   */
  keyIn?: 'header' | 'body';
  /** For a start: what it starts (default: a generation), for the advice in its errors. */
  starts?: StartWords;
  schema: z.ZodType<T>;
  call?: CallOptions;
}

/** Where an asset goes: its workspace, and optionally a project whose canvas also shows it. */
export interface AssetPlacement {
  workspace_id: string;
  project_id?: string;
}

/** A reserved asset and where its file must be sent (not FLORA: a storage host). */
export interface SignedUploadTarget {
  asset_id: string;
  target: StorageTarget;
}

export class FloraClient {
  private readonly opts: Required<Omit<FloraClientOptions, 'fetch' | 'logger' | 'random' | 'proxy' | 'mediaHosts'>>;
  private readonly mediaHosts: readonly string[];
  /** Every request to other hosts (storage, media) and, with a proxy or a test's fetch, to FLORA. */
  private readonly fetchImpl: typeof fetch;
  /** Requests to FLORA's API. */
  private readonly api: ApiTransport;
  private readonly proxy: ProxyConfig;
  private readonly log: Logger;
  private readonly random: () => number;

  constructor(options: FloraClientOptions) {
    this.opts = {
      apiKey: options.apiKey,
      baseUrl: options.baseUrl,
      timeoutMs: options.timeoutMs,
      maxRetries: options.maxRetries,
      maxTotalMs: Math.max(options.maxTotalMs ?? 60_000, options.timeoutMs),
      baseBackoffMs: options.baseBackoffMs ?? 500,
      maxBackoffMs: options.maxBackoffMs ?? 8_000,
      maxRetryAfterMs: options.maxRetryAfterMs ?? 20_000,
    };
    this.proxy = options.proxy ?? NO_PROXY;
    const base = options.fetch ?? globalThis.fetch;
    this.fetchImpl = usesProxy(this.proxy) ? proxiedFetch(this.proxy, base) : base;
    // FLORA's GETs skip fetch's overhead (direct-get.ts), unless a proxy carries them or a test's
    // own fetch must see every request.
    const direct = options.fetch === undefined && proxyFor(options.baseUrl, this.proxy) === undefined;
    this.api = direct ? directGets(options.baseUrl.origin, this.fetchImpl) : this.fetchImpl;
    this.log = options.logger ?? silentLogger;
    this.random = options.random ?? Math.random;
    this.mediaHosts = options.mediaHosts ?? [];
  }

  /** The client the user's configuration describes; `extra` tunes it (tests: backoff, fetch). */
  static fromConfig(
    config: Pick<Config, 'baseUrl' | 'timeoutMs' | 'maxRetries'> &
      Partial<Pick<Config, 'proxy' | 'mediaHosts'>> & { apiKey: string },
    extra: Partial<FloraClientOptions> = {},
  ): FloraClient {
    return new FloraClient({
      apiKey: config.apiKey,
      baseUrl: config.baseUrl,
      timeoutMs: config.timeoutMs,
      maxRetries: config.maxRetries,
      proxy: config.proxy,
      mediaHosts: config.mediaHosts,
      ...extra,
    });
  }

  /** POST /generate: the live twin of the deprecated POST /runs/generation (same body). */
  generate(body: GenerateBody, idempotencyKey: string, opts: CallOptions = {}): Promise<StartRunResponse> {
    return this.request({
      method: 'POST',
      path: ['generate'],
      body,
      idempotencyKey,
      starts: GENERATION_WORDS,
      schema: StartRunResponse,
      call: opts,
    });
  }

  /** GET /techniques: the technique catalog, one page. */
  listTechniques(
    query: { workspace_id?: string; query?: string; limit?: number; cursor?: string },
    opts: CallOptions = {},
  ): Promise<TechniqueList> {
    return this.request({ method: 'GET', path: ['techniques'], query, schema: TechniqueList, call: opts });
  }

  /** GET /techniques/{technique_id}: one technique's definition (inputs, outputs, run_cost). */
  async getTechnique(techniqueId: string, opts: CallOptions = {}): Promise<Technique> {
    checkId(techniqueId, TECHNIQUE_ID_PATTERN, 'technique_id', TECHNIQUE_ID_RULE);
    return this.request({ method: 'GET', path: ['techniques', techniqueId], schema: Technique, call: opts });
  }

  /**
   * POST /techniques/{technique_id}/runs: the route FLORA measured to honour idempotency for
   * techniques, through the body's idempotency_key (it ignores the header). Its inputs carry only
   * text, imageUrl and videoUrl. Answers the run's state.
   */
  async startTechniqueRun(
    techniqueId: string,
    body: TechniqueRunBody,
    idempotencyKey: string,
    opts: CallOptions = {},
  ): Promise<TechniqueRunStarted> {
    checkId(techniqueId, TECHNIQUE_ID_PATTERN, 'technique_id', TECHNIQUE_ID_RULE);
    return this.request({
      method: 'POST',
      path: ['techniques', techniqueId, 'runs'],
      body,
      idempotencyKey,
      keyIn: 'body',
      starts: TECHNIQUE_RUN_WORDS,
      schema: TechniqueRunStarted,
      call: opts,
    });
  }

  /**
   * POST /runs/technique: the top-level route, for inputs the nested one cannot carry (audioUrl,
   * documentUrl). Inputs as a map; the key in the Idempotency-Key header. Answers the start envelope.
   */
  startTechniqueRunLegacy(body: TechniqueStartBody, idempotencyKey: string, opts: CallOptions = {}): Promise<StartRunResponse> {
    return this.request({
      method: 'POST',
      path: ['runs', 'technique'],
      body,
      idempotencyKey,
      starts: TECHNIQUE_RUN_WORDS,
      schema: StartRunResponse,
      call: opts,
    });
  }

  /** GET /techniques/{technique_id}/runs/{run_id}: where technique runs are polled (not GET /runs/{id}). */
  async getTechniqueRun(techniqueId: string, runId: string, opts: CallOptions = {}): Promise<RunStatus> {
    checkId(techniqueId, TECHNIQUE_ID_PATTERN, 'technique_id', TECHNIQUE_ID_RULE);
    checkId(runId, RUN_ID_PATTERN, 'run_id', RUN_ID_RULE);
    return this.request({ method: 'GET', path: ['techniques', techniqueId, 'runs', runId], schema: RunStatus, call: opts });
  }

  /** GET /technique-runs: technique run history, newest first. */
  listTechniqueRuns(
    query: {
      workspace_id?: string;
      technique_id?: string;
      project_id?: string;
      status?: string;
      limit?: number;
      cursor?: string;
    },
    opts: CallOptions = {},
  ): Promise<TechniqueRunList> {
    return this.request({ method: 'GET', path: ['technique-runs'], query, schema: TechniqueRunList, call: opts });
  }

  /** GET /models, optionally filtered by type. */
  listModels(type: GenerationType | undefined, opts: CallOptions = {}): Promise<ModelList> {
    return this.request({ method: 'GET', path: ['models'], query: { type }, schema: ModelList, call: opts });
  }

  /** GET /workspaces: every workspace this key can reach. */
  listWorkspaces(opts: CallOptions = {}): Promise<WorkspaceList> {
    return this.request({ method: 'GET', path: ['workspaces'], schema: WorkspaceList, call: opts });
  }

  /** GET /projects: a workspace's projects, most recently active first, one page. */
  listProjects(
    query: { workspace_id: string; query?: string; limit?: number; cursor?: string },
    opts: CallOptions = {},
  ): Promise<ProjectList> {
    return this.request({ method: 'GET', path: ['projects'], query, schema: ProjectList, call: opts });
  }

  /** GET /generations: generation history, newest first. */
  listGenerations(
    query: { workspace_id?: string; project_id?: string; limit?: number; cursor?: string },
    opts: CallOptions = {},
  ): Promise<GenerationList> {
    return this.request({ method: 'GET', path: ['generations'], query, schema: GenerationList, call: opts });
  }

  /** GET /runs/{run_id}. The URL is built from the ID against FLORA_BASE_URL, never from a poll_url. */
  async getRun(runId: string, opts: CallOptions = {}): Promise<RunStatus> {
    checkId(runId, RUN_ID_PATTERN, 'run_id', RUN_ID_RULE);
    return this.request({ method: 'GET', path: ['runs', runId], schema: RunStatus, call: opts });
  }

  /** POST /assets with a public https URL that FLORA fetches itself; the asset starts pending_upload. */
  createAssetFromUrl(body: AssetPlacement & { source: string }, idempotencyKey: string, opts: CallOptions = {}): Promise<Asset> {
    return this.request({
      method: 'POST',
      path: ['assets'],
      body,
      idempotencyKey,
      creates: 'asset',
      schema: Asset,
      call: opts,
    });
  }

  /**
   * POST /assets as multipart/form-data, for a file of at most 4 MB; the asset comes back ready.
   * The file is streamed from its Blob (file-backed: nothing is loaded whole), read again on a retry.
   */
  uploadAsset(
    upload: AssetPlacement & { file: Blob; file_name: string },
    idempotencyKey: string,
    opts: CallOptions = {},
  ): Promise<Asset> {
    const { file, file_name, ...placement } = upload;
    const form = () => {
      const data = new FormData();
      for (const [k, v] of Object.entries(placement)) if (v !== undefined) data.append(k, v);
      data.append('file', file, file_name);
      return data;
    };
    return this.request({
      method: 'POST',
      path: ['assets'],
      form,
      idempotencyKey,
      creates: 'asset',
      schema: Asset,
      call: opts,
    });
  }

  /** POST /assets with source "signed-url": reserves an asset and says where to send the file. */
  async createSignedUpload(
    body: AssetPlacement & { file_name: string; content_type: string },
    idempotencyKey: string,
    opts: CallOptions = {},
  ): Promise<SignedUploadTarget> {
    const answer = await this.request({
      method: 'POST',
      path: ['assets'],
      body: { source: 'signed-url', ...body },
      idempotencyKey,
      creates: 'asset',
      schema: SignedUpload,
      call: opts,
    });
    checkAssetId(answer.asset_id);
    return { asset_id: answer.asset_id, target: storageTargetOf(answer) };
  }

  /** Sends a signed upload's file to its storage host: no FLORA key, no redirects, a timeout that grows with the size. */
  storageUpload(target: StorageTarget, file: Blob, fileName: string, opts: CallOptions = {}): Promise<void> {
    return uploadToStorage(target, file, fileName, {
      fetch: this.fetchImpl,
      proxy: this.proxy,
      timeoutMs: opts.timeoutMs ?? this.opts.timeoutMs,
      maxRetries: opts.maxRetries ?? this.opts.maxRetries,
      baseBackoffMs: this.opts.baseBackoffMs,
      signal: opts.signal,
      log: this.log,
    });
  }

  /**
   * Downloads one media file of FLORA's (an output or asset URL) for a preview: not a FLORA API
   * request, so without the key; only from FLORA's media hosts and FLORA_MEDIA_HOSTS, each
   * redirect re-checked; capped in bytes and in time: FLORA_TIMEOUT_MS, or less to end by `deadline`.
   */
  downloadMedia(url: string, opts: CallOptions & { maxBytes?: number; deadline?: number } = {}): Promise<MediaDownload> {
    const left = opts.deadline === undefined ? Number.POSITIVE_INFINITY : opts.deadline - Date.now();
    return downloadMedia(url, {
      fetch: this.fetchImpl,
      extraHosts: this.mediaHosts,
      timeoutMs: Math.max(1, Math.min(opts.timeoutMs ?? this.opts.timeoutMs, left)),
      maxBytes: opts.maxBytes,
      signal: opts.signal,
    });
  }

  /** POST /assets/{asset_id}/complete: tells FLORA a signed upload's file has been sent. */
  completeAsset(assetId: string, opts: CallOptions = {}): Promise<Asset> {
    checkAssetId(assetId);
    return this.request({ method: 'POST', path: ['assets', assetId, 'complete'], body: {}, schema: Asset, call: opts });
  }

  /** GET /assets/{asset_id}. */
  getAsset(assetId: string, opts: CallOptions = {}): Promise<Asset> {
    checkAssetId(assetId);
    return this.request({ method: 'GET', path: ['assets', assetId], schema: Asset, call: opts });
  }

  /** Base path joined with encoded segments; a base like https://host/api/v1/ keeps its path. */
  url(path: string[], query?: Record<string, string | number | undefined>): URL {
    const url = new URL(this.opts.baseUrl.href);
    const basePath = url.pathname.replace(/\/+$/, '');
    url.pathname = `${basePath}/${path.map(encodeURIComponent).join('/')}`;
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    return url;
  }

  private async request<T>(spec: RequestSpec<T>): Promise<T> {
    const started = Date.now();
    const deadline = started + this.opts.maxTotalMs;
    /** Whether an earlier attempt may have reached FLORA although we never read its answer. */
    let earlierUncertain = false;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(spec, attempt, deadline);
      } catch (err) {
        if (!(err instanceof FloraError)) throw err;
        if (err.status === 429) spec.call?.onRateLimited?.(err.retryAfterSeconds);
        if (attempt > 0 && err.code === 'idempotency_duplicate' && spec.idempotencyKey !== undefined) {
          throw spec.creates === 'asset' ? assetAnswerLost(err) : firstAttemptLanded(err, spec.idempotencyKey, spec);
        }
        const delay = this.retryDelay(err, attempt);
        const remaining = deadline - Date.now();
        const maxRetries = spec.call?.maxRetries ?? this.opts.maxRetries;
        if (delay === undefined || attempt >= maxRetries || delay + 1_000 > remaining) {
          throw this.finalize(err, spec, attempt + 1, earlierUncertain);
        }
        earlierUncertain ||= outcomeUnknown(err);
        this.log.warn(
          `${spec.method} /${spec.path[0]} failed with ${err.status ?? err.code}; retry ${attempt + 1}/${maxRetries} in ${Math.round(delay)} ms`,
        );
        await sleep(delay, spec.call?.signal);
      }
    }
  }

  /** Undefined when this error must not be retried. */
  private retryDelay(err: FloraError, attempt: number): number | undefined {
    const transient =
      (err instanceof NetworkError && err.retryable) || (err.status !== undefined && RETRYABLE_STATUSES.has(err.status));
    if (!transient) return undefined;
    if (err.retryAfterSeconds !== undefined) {
      const ms = err.retryAfterSeconds * 1000;
      return ms > this.opts.maxRetryAfterMs ? undefined : ms;
    }
    const exp = Math.min(this.opts.maxBackoffMs, this.opts.baseBackoffMs * 2 ** attempt);
    return exp * (1 - 0.25 * this.random());
  }

  private async attempt<T>(spec: RequestSpec<T>, attempt: number, deadline: number): Promise<T> {
    const url = this.url(spec.path, spec.query);
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.opts.apiKey}`,
      Accept: 'application/json',
      'User-Agent': `${SERVER_NAME}/${VERSION}`,
    };
    // A multipart body sets its own Content-Type, with its boundary.
    if (spec.body !== undefined && spec.form === undefined) headers['Content-Type'] = 'application/json';
    let body = spec.body;
    if (spec.idempotencyKey !== undefined) {
      if (spec.keyIn === 'body') body = { ...(spec.body as object), idempotency_key: spec.idempotencyKey };
      else headers['Idempotency-Key'] = spec.idempotencyKey;
    }

    const timeoutMs = Math.max(1, Math.min(spec.call?.timeoutMs ?? this.opts.timeoutMs, deadline - Date.now()));
    // One controller aborted by the timeout or by the caller. Not AbortSignal.any: on Node 20 it
    // costs about a tenth of a call's whole overhead (weak refs, a finalization registry per call).
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(), timeoutMs);
    const caller = spec.call?.signal;
    const onCallerAbort = () => timer.abort(caller?.reason);
    if (caller?.aborted) onCallerAbort();
    else caller?.addEventListener('abort', onCallerAbort, { once: true });
    const signal = timer.signal;
    const t0 = Date.now();
    let status: number | undefined;
    let requestId: string | undefined;
    try {
      const res = await this.api(url, {
        method: spec.method,
        headers,
        // With redirect 'manual' fetch keeps a copy of a streamed body; a multipart one is at most 4 MB.
        body: spec.form ? spec.form() : body === undefined ? undefined : JSON.stringify(body),
        signal,
        redirect: 'manual',
      });
      status = res.status;
      requestId = res.headers.get('request-id') ?? undefined;
      const text = await readBody(res);
      this.log.debug(
        `${spec.method} ${url.pathname} -> ${res.status} in ${Date.now() - t0} ms (attempt ${attempt + 1}${requestId ? `, ${requestId}` : ''})`,
      );
      // fetch rejects a 407 (see responses.ts); Node's http module, for direct GETs, hands it over.
      if (res.status === 407) throw proxyAuthRequired(url, this.proxy);
      if (res.status >= 300 && res.status < 400) {
        const location = res.headers.get('location') ?? 'an unspecified location';
        throw UpstreamError.of(
          `FLORA answered ${res.status} with a redirect to ${location}. It was not followed, so the API key stays on FLORA_BASE_URL's origin. Check FLORA_BASE_URL (default https://app.flora.ai/api/v1).`,
          { status: res.status, requestId },
        );
      }
      if (res.status < 200 || res.status >= 300) throw errorFromResponse(res, text, requestId);
      return parseSuccess(text, spec.schema, res.status, requestId);
    } catch (err) {
      if (err instanceof FloraError) throw err;
      if (caller?.aborted) {
        throw CancelledError.of('The call was cancelled by the client before FLORA answered.', err);
      }
      if (timer.signal.aborted) {
        throw TimeoutError.of(
          `FLORA did not answer within ${timeoutMs} ms (FLORA_TIMEOUT_MS). This is usually transient: try again shortly.`,
          err,
        );
      }
      throw networkError(err, status, url, this.proxy);
    } finally {
      clearTimeout(timeout);
      caller?.removeEventListener('abort', onCallerAbort);
    }
  }

  /** Last words on an error that will not be retried: what to do next, and how to retry safely. */
  private finalize(err: FloraError, spec: RequestSpec<unknown>, attempts: number, earlierUncertain: boolean): FloraError {
    const key = spec.idempotencyKey;
    if (key !== undefined && spec.creates === 'asset' && outcomeUnknown(err)) {
      return err.retold(
        `${err.message} The asset may or may not have been created. Calling upload_media again is safe: at worst FLORA keeps an unused copy.`,
      );
    }
    const { noun, tool, history } = spec.starts ?? GENERATION_WORDS;
    if (key !== undefined && spec.creates !== 'asset' && err.code !== 'idempotency_duplicate') {
      if (outcomeUnknown(err)) {
        if (err.status !== undefined && err.status >= 200 && err.status < 300) {
          return err.retold(
            `${err.message} FLORA accepted the request, so the ${noun} has started and is billed, but its run_id could not be read. Do not start it again; find the run in ${history}. A retry with idempotency_key "${key}" would be refused as a duplicate.`,
            key,
          );
        }
        return err.retold(
          `${err.message} The ${noun} may or may not have started. To try again without risking a second charge, call ${tool} with idempotency_key "${key}": FLORA then refuses a duplicate instead of starting another run.`,
          key,
        );
      }
      if (earlierUncertain) {
        // This answer is definite, but an earlier attempt's was lost: that one may have started it.
        return err.retold(
          `${err.message} Note: an earlier attempt of this call got no readable answer, so it may have started the ${noun}. Before starting again, retry with idempotency_key "${key}": FLORA then refuses a duplicate instead of starting a second run.`,
          key,
        );
      }
    }
    if (attempts > 1 && err.retryable && err.code !== 'rate_limited') {
      return err.retold(`${err.message} (gave up after ${attempts} attempts)`);
    }
    return err;
  }
}

/** True when a failed attempt may still have reached FLORA and taken effect. */
function outcomeUnknown(err: FloraError): boolean {
  return (
    err instanceof TimeoutError ||
    err instanceof NetworkError ||
    (err instanceof UpstreamError && (err.status === undefined || err.status >= 200))
  );
}

/** True when `err` says a start created its run but the run_id never reached us. */
export function isLostStart(err: unknown): err is FloraError {
  if (err instanceof LostStartError) return true;
  return (
    err instanceof UpstreamError &&
    err.idempotencyKey !== undefined &&
    err.status !== undefined &&
    err.status >= 200 &&
    err.status < 300
  );
}

function assetAnswerLost(err: FloraError): FloraError {
  return new FloraApiError(
    'idempotency_duplicate',
    'An earlier attempt of this upload reached FLORA and created the asset, but its answer was lost on the way back. Call upload_media again: it makes a new asset (the lost one stays unused).',
    { status: err.status, requestId: err.requestId, retryable: true },
  );
}

function checkAssetId(assetId: string): void {
  if (!ASSET_ID_PATTERN.test(assetId)) {
    throw UpstreamError.of(`FLORA returned an asset ID that cannot be used in a URL ("${assetId.slice(0, 40)}").`);
  }
}

/** Refuses, before any request, an ID that is not one or could change the URL it is put in. */
function checkId(value: string, pattern: RegExp, field: string, rule: string): void {
  if (!pattern.test(value)) {
    throw InvalidArgumentsError.of(`${field} "${value}" is not a FLORA ${field.replace(/_id$/, '')} ID.`, [
      { field, message: rule },
    ]);
  }
}

function firstAttemptLanded(err: FloraError, key: string, spec: RequestSpec<unknown>): FloraError {
  const { noun, history } = spec.starts ?? GENERATION_WORDS;
  const keyName = spec.keyIn === 'body' ? 'idempotency_key' : 'Idempotency-Key';
  return new LostStartError(
    'idempotency_duplicate',
    `An earlier attempt of this call reached FLORA and started the ${noun}, but its answer was lost on the way back (FLORA now reports ${keyName} "${key}" as already used). The run exists and is billed once. Do not start it again: that would start and bill a second run. Find it in ${history}.`,
    { status: err.status, requestId: err.requestId, retryable: false, idempotencyKey: key },
  );
}

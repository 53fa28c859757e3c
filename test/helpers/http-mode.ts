/**
 * The server in Streamable HTTP mode, in-process on 127.0.0.1:0 against the fake FLORA, reached
 * with the SDK's own Streamable HTTP client or by raw requests (for what fetch cannot send).
 * `logged()` holds every line the server wrote: its own logger's and, via the logWrite seam, each
 * request's logger's (where a request's key must be redacted).
 */
import { request } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { loadConfig } from '../../src/config.js';
import { startHttpServer, type HttpServer } from '../../src/http.js';
import { createLogger, makeRedactor } from '../../src/log.js';
import { FAKE_KEY, type FakeFlora } from './fake-flora.js';
import { useFakeFlora } from './harness.js';

export const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
export const LIST = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });

/** A start with a model: its pre-flight reads the catalog, whose failure is logged with FLORA's message. */
export const START_WITH_MODEL = {
  project_id: 'prj_s01',
  workspace_id: 'ws_studio',
  prompt: 'a mug',
  type: 'image',
  model: 't2i-flux-2-pro',
};

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface StartOptions {
  env?: Record<string, string>;
  allowedHosts?: string[];
  useEnvKey?: boolean;
}

export interface HttpMode {
  /** The fake FLORA of the running test. */
  readonly fake: FakeFlora;
  /** Starts the server (stopped after the test). */
  start(opts?: StartOptions): Promise<HttpServer>;
  /** The server the test started; undefined before, or once the test closed it itself. */
  server(): HttpServer;
  /** Tells the cleanup that the test closed the server itself. */
  forget(): void;
  /**
   * A connected SDK client sending `headers` with every request, through `fetch` when given. With
   * `asked`, the client declares elicitation and records every question it is sent (accepting it).
   */
  connect(headers: Record<string, string>, fetch?: typeof globalThis.fetch, asked?: unknown[]): Promise<Client>;
  /** Everything the server logged in this test. */
  logged(): string;
  /** Resolves once the server has logged a line containing `text` (at once if it already has). */
  logLine(text: string): Promise<void>;
  /** A raw request, for what fetch cannot send (a foreign Host header). */
  raw(path: string, opts?: { method?: string; headers?: Record<string, string>; body?: string }): Promise<RawAnswer>;
  /** A POST to /mcp whose body goes out in `chunks`, chunked: no Content-Length announces its size. */
  postChunked(chunks: string[]): Promise<{ status: number; body: string }>;
  /**
   * A POST to /mcp that announces `contentLength` and then sends nothing, keeping its connection
   * open: the answer, or 'no answer' when none came within `waitMs`.
   */
  announceOnly(contentLength: number, waitMs?: number): Promise<{ status: number; body: string } | 'no answer'>;
}

export function useHttpMode(onStart: (fake: FakeFlora) => void = () => {}): HttpMode {
  let fake: FakeFlora;
  let http: HttpServer | undefined;
  const clients: Client[] = [];
  let logged = '';
  let waiters: Array<{ text: string; resolve: () => void }> = [];
  const write = (line: string) => {
    logged += line;
    const met = waiters.filter((w) => logged.includes(w.text));
    waiters = waiters.filter((w) => !met.includes(w));
    for (const w of met) w.resolve();
  };

  useFakeFlora(
    (f) => {
      fake = f;
      onStart(f);
    },
    async () => {
      for (const c of clients.splice(0)) await c.close().catch(() => {});
      await http?.close(100);
      http = undefined;
      logged = '';
      waiters = [];
    },
  );

  const server = (): HttpServer => {
    if (!http) throw new Error('no HTTP server started in this test');
    return http;
  };

  return {
    get fake() {
      return fake;
    },
    async start(opts = {}) {
      const config = loadConfig({ FLORA_BASE_URL: fake.baseUrl, FLORA_LOG: 'debug', ...opts.env });
      http = await startHttpServer({
        config,
        host: '127.0.0.1',
        port: 0,
        allowedHosts: opts.allowedHosts ?? [],
        useEnvKey: opts.useEnvKey ?? false,
        log: createLogger('debug', makeRedactor(config.apiKey), write),
        logWrite: write,
      });
      return http;
    },
    server,
    forget: () => {
      http = undefined;
    },
    async connect(headers, fetch, asked) {
      const transport = new StreamableHTTPClientTransport(new URL(server().url), {
        requestInit: { headers },
        ...(fetch && { fetch }),
      });
      const client = new Client({ name: 'http-test', version: '0' }, asked && { capabilities: { elicitation: {} } });
      if (asked) {
        client.setRequestHandler(ElicitRequestSchema, (req) => {
          asked.push(req.params);
          return { action: 'accept', content: { confirm: true } };
        });
      }
      await client.connect(transport);
      clients.push(client);
      return client;
    },
    logged: () => logged,
    logLine: (text) =>
      logged.includes(text) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ text, resolve })),
    raw(path, opts = {}) {
      const { hostname, port } = new URL(server().url);
      return new Promise((resolve, reject) => {
        const req = request(
          { host: hostname, port, path, method: opts.method ?? 'POST', headers: { ...JSON_HEADERS, ...opts.headers } },
          (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
          },
        );
        req.on('error', reject);
        req.end(opts.body);
      });
    },
    postChunked(chunks) {
      const { hostname, port } = new URL(server().url);
      return new Promise((resolve, reject) => {
        const req = request(
          {
            host: hostname,
            port,
            path: '/mcp',
            method: 'POST',
            agent: false, // a connection of its own: the server may stop reading it mid-body
            headers: { ...JSON_HEADERS, authorization: `Bearer ${FAKE_KEY}`, 'transfer-encoding': 'chunked' },
          },
          (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        void (async () => {
          for (const chunk of chunks) {
            if (req.destroyed) return;
            await new Promise<void>((r) => req.write(chunk, () => r()));
          }
          req.end();
        })();
      });
    },
    announceOnly(contentLength, waitMs = 2_000) {
      const { hostname, port } = new URL(server().url);
      return new Promise((resolve) => {
        const req = request({
          host: hostname,
          port,
          path: '/mcp',
          method: 'POST',
          agent: false,
          headers: { ...JSON_HEADERS, authorization: `Bearer ${FAKE_KEY}`, 'content-length': String(contentLength) },
        });
        const timer = setTimeout(() => {
          resolve('no answer');
          req.destroy();
        }, waitMs);
        req.on('response', (res) => {
          clearTimeout(timer);
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, body });
            req.destroy();
          });
        });
        req.on('error', () => {}); // destroyed by this function, once it has its outcome
        req.flushHeaders();
      });
    },
  };
}

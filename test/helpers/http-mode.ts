/**
 * HTTP mode under test: the real server (startHttpServer) on 127.0.0.1:0 against the fake FLORA,
 * reached by the SDK's Streamable HTTP client or by raw requests (for what fetch cannot send).
 * `logged` holds every line the server writes: its own logger's and, via the logWrite seam, each
 * request's logger's (where a request's key must be redacted).
 */
import { request } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
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

export interface HttpMode {
  readonly fake: FakeFlora;
  /** The server start() started, until the test or the cleanup closes it. */
  readonly server: HttpServer | undefined;
  readonly logged: string;
  start(opts?: { env?: Record<string, string>; allowedHosts?: string[]; useEnvKey?: boolean }): Promise<HttpServer>;
  /** The test closed the server itself: the cleanup has nothing to close. */
  forget(): void;
  connect(headers: Record<string, string>): Promise<Client>;
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

/** One fake FLORA for the test file, and at most one HTTP server per test, closed after it with its clients. */
export function useHttpMode(): HttpMode {
  let fake: FakeFlora | undefined;
  let server: HttpServer | undefined;
  let logged = '';
  const clients: Client[] = [];
  const url = () => new URL(server!.url);

  useFakeFlora(
    (f) => (fake = f),
    async () => {
      for (const c of clients.splice(0)) await c.close().catch(() => {});
      await server?.close(100);
      server = undefined;
      logged = '';
    },
  );

  return {
    get fake() {
      return fake!;
    },
    get server() {
      return server;
    },
    get logged() {
      return logged;
    },
    async start(opts = {}) {
      const config = loadConfig({ FLORA_BASE_URL: fake!.baseUrl, FLORA_LOG: 'debug', ...opts.env });
      server = await startHttpServer({
        config,
        host: '127.0.0.1',
        port: 0,
        allowedHosts: opts.allowedHosts ?? [],
        useEnvKey: opts.useEnvKey ?? false,
        log: createLogger('debug', makeRedactor(config.apiKey), (line) => (logged += line)),
        logWrite: (line) => (logged += line),
      });
      return server;
    },
    forget() {
      server = undefined;
    },
    async connect(headers) {
      const transport = new StreamableHTTPClientTransport(new URL(server!.url), { requestInit: { headers } });
      const client = new Client({ name: 'http-test', version: '0' });
      await client.connect(transport);
      clients.push(client);
      return client;
    },
    raw(path, opts = {}) {
      const { hostname, port } = url();
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
      const { hostname, port } = url();
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
      const { hostname, port } = url();
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

/**
 * The server in Streamable HTTP mode, in-process against the fake FLORA, reached with the SDK's own
 * Streamable HTTP client. `logged()` holds every line the server wrote: its own logger's and, via
 * the logWrite seam, each request's logger's (where a request's key must be redacted).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { loadConfig } from '../../src/config.js';
import { startHttpServer, type HttpServer } from '../../src/http.js';
import { createLogger, makeRedactor } from '../../src/log.js';
import type { FakeFlora } from './fake-flora.js';
import { useFakeFlora } from './harness.js';

export interface StartOptions {
  env?: Record<string, string>;
  allowedHosts?: string[];
  useEnvKey?: boolean;
}

export interface HttpMode {
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
}

export function useHttpMode(onStart: (fake: FakeFlora) => void): HttpMode {
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
  };
}

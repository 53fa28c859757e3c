/**
 * Streamable HTTP mode for teams: one endpoint (/mcp) that many agents share, stateless (a fresh
 * MCP server and transport per request, JSON responses), so any instance behind a load balancer
 * answers any request. Each request brings its own FLORA key, used for that request only and never
 * stored or logged; the server's own env key is used only when the operator opts in. Safe by
 * default: Host and Origin checked against DNS rebinding, a body size limit, timeouts, /healthz,
 * and a bounded drain on shutdown.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Config } from './config.js';
import { SpendBook } from './flora/spend-book.js';
import { createLogger, makeRedactor, type Logger } from './log.js';
import { createServer } from './server.js';
import { settledWithin } from './sleep.js';
import { buildTools } from './tools/index.js';
import type { ToolDefinition } from './tools/tool.js';

const MCP_PATH = '/mcp';
export const MAX_BODY_BYTES = 1024 * 1024;
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]', '::1'];

export interface HttpOptions {
  config: Config;
  host: string;
  port: number;
  /** Host names (no port) that requests may address; loopback names when empty. */
  allowedHosts: string[];
  /** Use FLORA_API_KEY from the server's env for requests that bring no key (operator opt-in). */
  useEnvKey: boolean;
  log: Logger;
  /**
   * Where each request's own logger writes (default stderr, as createLogger's). Those loggers are
   * built per request to redact that request's key as well as the env key; `log` cannot, since it
   * knows no request's key. Tests pass the sink of `log` here to see every line the server writes.
   */
  logWrite?: (line: string) => void;
  /** Test seam, as for createServer. */
  fetch?: typeof fetch;
}

export interface HttpServer {
  server: Server;
  url: string;
  /** Stop accepting, let requests in flight finish (bounded), then close. */
  close(drainMs?: number): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** A JSON-RPC shaped error, which MCP clients know how to show. */
function rpcError(res: ServerResponse, status: number, message: string, headers?: Record<string, string>): void {
  sendJson(res, status, { jsonrpc: '2.0', error: { code: -32000, message }, id: null }, headers);
}

/** Host header → host name without port (IPv6 keeps its brackets). */
function hostName(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  try {
    return new URL(`http://${hostHeader}`).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/** The FLORA key a request brings: `Authorization: Bearer …`, else `X-Flora-Api-Key`. */
function requestKey(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  const bearer = auth && /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
  const header = req.headers['x-flora-api-key'];
  const key = bearer || (typeof header === 'string' ? header.trim() : undefined);
  return key && !/\s/.test(key) ? key : undefined;
}

async function readBody(
  req: IncomingMessage,
): Promise<{ ok: true; body: unknown } | { ok: false; status: number; message: string }> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) return { ok: false, status: 413, message: `Request body over ${MAX_BODY_BYTES} bytes.` };
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return { ok: false, status: 413, message: `Request body over ${MAX_BODY_BYTES} bytes.` };
    chunks.push(chunk);
  }
  try {
    return { ok: true, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch {
    return { ok: false, status: 400, message: 'Request body is not valid JSON.' };
  }
}

export async function startHttpServer(opts: HttpOptions): Promise<HttpServer> {
  const { config, log } = opts;
  const allowed = new Set((opts.allowedHosts.length ? opts.allowedHosts : LOOPBACK_NAMES).map((h) => h.toLowerCase()));
  // Tools depend only on config: built once, shared by every request's fresh MCP server.
  const tools: readonly ToolDefinition[] = buildTools(config);
  const redactEnvKey = makeRedactor(config.apiKey);
  // Spend is counted per key across this instance's requests (each instance counts its own).
  const spend = new SpendBook();
  let draining = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    const host = hostName(req.headers.host);
    if (!host || !allowed.has(host)) {
      return rpcError(res, 403, `Host "${req.headers.host ?? ''}" is not allowed. The operator can add it with --allowed-hosts.`);
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !allowed.has(hostName(origin.replace(/^[a-z]+:\/\//i, '')) ?? '')) {
      return rpcError(res, 403, `Origin "${origin}" is not allowed.`);
    }
    if (path === '/healthz') {
      return sendJson(res, draining ? 503 : 200, { status: draining ? 'draining' : 'ok' });
    }
    if (path !== MCP_PATH) return rpcError(res, 404, `Not found: the MCP endpoint is ${MCP_PATH}.`);
    if (draining) return rpcError(res, 503, 'Shutting down; retry on another instance.', { connection: 'close' });
    if (req.method !== 'POST') {
      // Stateless: no standalone SSE stream and no sessions to delete.
      return rpcError(res, 405, 'Method not allowed: this stateless endpoint takes POST only.', { allow: 'POST' });
    }
    const key = requestKey(req) ?? (opts.useEnvKey ? config.apiKey : undefined);
    if (!key) {
      return rpcError(res, 401, 'Missing FLORA API key: send it as "Authorization: Bearer <key>" or "X-Flora-Api-Key: <key>".', {
        'www-authenticate': 'Bearer realm="flora-generation-mcp"',
      });
    }
    const body = await readBody(req);
    if (!body.ok) return rpcError(res, body.status, body.message);

    // This request's key, for this request only: its own client, logger and redactor.
    const redactRequestKey = makeRedactor(key);
    const requestLog = createLogger(config.logLevel, (line) => redactEnvKey(redactRequestKey(line)), opts.logWrite);
    const mcp = createServer({
      config: { ...config, apiKey: key },
      logger: requestLog,
      tools,
      fetch: opts.fetch,
      transport: 'http',
      spend: spend.ledgerOf(key),
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      // Ends the request's work too: a client that went away cancels its calls.
      void transport.close();
      void mcp.server.close();
    });
    await mcp.server.connect(transport);
    await transport.handleRequest(req, res, body.body);
  };

  const server = createHttpServer((req, res) => {
    inFlight++;
    res.on('close', () => {
      inFlight--;
      if (draining && inFlight === 0) drained?.();
    });
    handle(req, res).catch((err: unknown) => {
      log.error('HTTP request failed', err);
      rpcError(res, 500, 'Internal error.');
    });
  });
  // A call may wait up to maxWaitSeconds, plus FLORA's own time: bound everything else tightly.
  server.requestTimeout = (config.maxWaitSeconds + 70) * 1000;
  server.headersTimeout = 15_000;
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    server,
    url: `http://${shownHost}:${address.port}${MCP_PATH}`,
    close: async (drainMs = 10_000) => {
      draining = true;
      server.close();
      server.closeIdleConnections();
      if (inFlight > 0) await settledWithin(new Promise<void>((resolve) => (drained = resolve)), drainMs);
      server.closeAllConnections();
    },
  };
}

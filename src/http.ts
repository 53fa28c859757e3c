/**
 * Streamable HTTP mode for teams: one endpoint (/mcp) that many agents share, stateless (a fresh
 * MCP server and transport per request), so any instance behind a load balancer answers any
 * request. A request is answered in plain JSON, unless it asks for progress (`_meta.progressToken`):
 * that one is answered as an SSE stream, which carries its progress notifications and then its
 * result. Each request brings its own FLORA key, used for that request only and never stored or
 * logged; the server's own env key is used only when the operator opts in. A call ends early when
 * its client goes away or cancels it from another request (see http-calls.ts). Safe by default:
 * Host and Origin checked against DNS rebinding, a body size limit, timeouts, /healthz, and a
 * bounded drain on shutdown.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CancelledNotificationSchema, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import type { Config } from './config.js';
import { callerIdentity, InFlightCalls } from './http-calls.js';
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

/**
 * JSON-RPC's "request cancelled" code (LSP's RequestCancelled). A cancelled request's exchange
 * ends with it: over stdio the SDK sends nothing, but an HTTP request must be answered to end.
 */
export const REQUEST_CANCELLED = -32800;

interface Incoming {
  /** Ids of the JSON-RPC requests in the body (a batch may hold several). */
  requestIds: RequestId[];
  /** Whether any of them asked for progress notifications. */
  wantsProgress: boolean;
  /** The `notifications/cancelled` in the body: which request, and why. */
  cancels: Array<{ requestId: RequestId; reason?: string }>;
}

/**
 * What the HTTP layer needs of a body before the transport validates it: plain property checks,
 * cheap on every request; the transport still rejects what is not JSON-RPC.
 */
function inspect(body: unknown): Incoming {
  const incoming: Incoming = { requestIds: [], wantsProgress: false, cancels: [] };
  for (const m of Array.isArray(body) ? body : [body]) {
    if (typeof m !== 'object' || m === null || typeof m.method !== 'string') continue;
    if (typeof m.id === 'string' || typeof m.id === 'number') {
      incoming.requestIds.push(m.id);
      if (m.params?._meta?.progressToken !== undefined) incoming.wantsProgress = true;
    } else if (m.method === 'notifications/cancelled') {
      const cancel = CancelledNotificationSchema.safeParse(m);
      const { requestId, reason } = cancel.success ? cancel.data.params : {};
      if (requestId !== undefined) incoming.cancels.push({ requestId, ...(reason !== undefined && { reason }) });
    }
  }
  return incoming;
}

/**
 * Cancels request `id` of one exchange as over stdio: the notification goes to the request's own
 * MCP server, which aborts the call's signal (its wait and FLORA requests stop) and drops its
 * result. Then the exchange is ended with a "request cancelled" error, so its JSON response or SSE
 * stream does not stay open; a client that cancelled ignores it.
 */
function cancelRequest(transport: StreamableHTTPServerTransport, id: RequestId, reason: string | undefined): void {
  transport.onmessage?.({
    jsonrpc: '2.0',
    method: 'notifications/cancelled',
    params: { requestId: id, ...(reason !== undefined && { reason }) },
  });
  const message = reason ? `Request cancelled: ${reason}` : 'Request cancelled.';
  transport.send({ jsonrpc: '2.0', id, error: { code: REQUEST_CANCELLED, message } }).catch(() => {});
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

const CANCEL_OUTCOMES = {
  cancelled: 'its call is cancelled',
  not_found: 'no such call in flight on this instance for this key (finished, never here, or another instance)',
  ambiguous: 'not cancelled: several calls with this key use that id here',
} as const;

export async function startHttpServer(opts: HttpOptions): Promise<HttpServer> {
  const { config, log } = opts;
  const allowed = new Set((opts.allowedHosts.length ? opts.allowedHosts : LOOPBACK_NAMES).map((h) => h.toLowerCase()));
  // Tools depend only on config: built once, shared by every request's fresh MCP server.
  const tools: readonly ToolDefinition[] = buildTools(config);
  const redactEnvKey = makeRedactor(config.apiKey);
  const calls = new InFlightCalls();
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
    const identity = callerIdentity(key);
    const incoming = inspect(body.body);
    for (const { requestId, reason } of incoming.cancels) {
      const outcome = calls.cancel(identity, requestId, reason);
      requestLog.info(`notifications/cancelled for request ${JSON.stringify(requestId)}: ${CANCEL_OUTCOMES[outcome]}`);
    }
    const mcp = createServer({
      config: { ...config, apiKey: key },
      logger: requestLog,
      tools,
      fetch: opts.fetch,
      transport: 'http',
      spend: spend.ledgerOf(key),
    });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: !incoming.wantsProgress,
    });
    const unregister = incoming.requestIds.map((id) => calls.add(identity, id, (reason) => cancelRequest(transport, id, reason)));
    res.on('close', () => {
      for (const done of unregister) done();
      // Ends the request's work too: a client that went away (closed its stream or connection)
      // cancels its calls, since closing the server aborts every call's signal.
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

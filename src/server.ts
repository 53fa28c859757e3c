/**
 * createServer: the MCP server over the tool registry. It uses the SDK's low-level Server so
 * that there is one place for everything between the wire and a tool: JSON Schema from zod,
 * argument validation into our own `invalid_arguments` error, configuration checks, the one
 * error net, redaction of the API key, and tracking of in-flight calls for a clean shutdown.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv-provider.js';
import type { jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  RootsListChangedNotificationSchema,
  type CallToolResult,
  type ElicitRequestFormParams,
  type ServerNotification,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';
import { configurationProblem, type Config } from './config.js';
import { CancelledError, ConfigurationError, FloraError } from './errors.js';
import { ModelCatalog } from './flora/catalog.js';
import { FloraClient, type FloraClientOptions } from './flora/client.js';
import { makeRedactor, redactedJson, redactValue, silentLogger, type Logger } from './log.js';
import { RunMemory } from './flora/run-memory.js';
import type { Answer, Asker } from './flora/spend.js';
import { SpendLedger } from './flora/spend-ledger.js';
import { TechniqueCatalog } from './flora/technique-catalog.js';
import { buildTools, toolsetOfTool } from './tools/index.js';
import {
  invalidArguments,
  toToolError,
  toToolResult,
  unexpectedError,
  type ToolAnnotations,
  type ToolDefinition,
} from './tools/tool.js';
import { SERVER_NAME, VERSION } from './version.js';

export const INSTRUCTIONS = [
  'FLORA generates images, video, audio and text.',
  '1. Discover IDs: list_workspaces (ask the user which workspace to bill if there are several), then list_projects.',
  '2. Choose a model: list_models (detail: true for param specs).',
  '3. start_generation_run: billed; charged_cost is a quote settled later.',
  '4. Wait: pass wait_seconds to start_generation_run or poll_run; call poll_run again while done is false.',
  '5. Look: preview_media (run_id, or an output url) shows image outputs as small previews; check them, and show the user, before starting variations or more runs.',
  "The user's own images, video, audio or PDFs: upload_media first, then pass its url exactly (e.g. params.image_url).",
  'Sets of 2-20 generations: start_generation_batch (each item billed, checked and keyed like a single start), then poll_runs.',
  "Techniques (FLORA's ready-made workflows): list_techniques to find one and read its inputs; upload_media for local files; run_technique with inputs keyed by input id (billed at run_cost); wait as in 4, passing technique_id to poll_run.",
  "Cost: estimate_only: true prices a start without starting it. budget_exceeded or confirmation_declined means the user's spend limits or the user said no: tell the user, never work around it.",
  'Output URLs are public links. Errors are {"error":{code,message,retryable}}: follow the message.',
].join('\n');

export interface ServerDeps {
  config: Config;
  logger?: Logger;
  /** Test seam: the fetch FLORA calls go through, and client tuning (backoff) for fast tests. */
  fetch?: typeof fetch;
  clientOptions?: Partial<FloraClientOptions>;
  /** Test seams: the cap on a pre-flight catalog lookup (default 5 s) and on roots/list (10 s), so a test of a hang waits less. */
  lookupTimeoutMs?: number;
  rootsTimeoutMs?: number;
  tools?: readonly ToolDefinition[];
  /** How clients reach this server (default stdio). Over HTTP, tools refuse local paths: they would be the server's files. */
  transport?: 'stdio' | 'http';
  /** What this account's runs have spent (HTTP: the request key's ledger, kept across requests). Default: a new one. */
  spend?: SpendLedger;
}

export interface FloraMcpServer {
  server: Server;
  /** Number of tool calls still running. */
  inFlight(): number;
  /** Resolves when no tool call is running (at once if none is). */
  idle(): Promise<void>;
}

/**
 * The one place zod becomes JSON Schema. What JSON Schema says by default is left out, so every
 * tools/list costs the model fewer tokens: no "$schema" (MCP 2025-11-25 then reads 2020-12, which
 * is what zod emits here), no `additionalProperties: {}` or `items: {}` (anything is allowed
 * anyway) and no `propertyNames: {type: "string"}` (JSON keys are strings).
 *
 * Nor the arguments' `additionalProperties: false`: like the ID formats (tools/fields.ts), it is a
 * rule the server checks rather than publishes. An argument the tool does not have is refused
 * with what to do instead (model settings go inside params), and nothing is sent to FLORA.
 */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io });
  if (io === 'input' && rest.additionalProperties === false) delete rest.additionalProperties;
  return withoutDefaults(rest) as Record<string, unknown>;
}

/** Drops implied keywords from schema nodes; keys of a `properties` map are field names, kept. */
function withoutDefaults(node: unknown, isPropertyMap = false): unknown {
  if (Array.isArray(node)) return node.map((n) => withoutDefaults(n));
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (!isPropertyMap) {
      if ((key === 'additionalProperties' || key === 'items') && isEmptyObject(value)) continue;
      if (key === 'propertyNames' && JSON.stringify(value) === '{"type":"string"}') continue;
    }
    out[key] = withoutDefaults(value, !isPropertyMap && key === 'properties');
  }
  return out;
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;
}

/** What MCP says a tool is when a hint is absent (2025-11-25, ToolAnnotations). */
export const SPEC_DEFAULT_HINTS: Readonly<ToolAnnotations> = {
  readOnlyHint: false,
  destructiveHint: true,
  idempotentHint: false,
  openWorldHint: true,
};

/**
 * The hints a client could not infer: those that differ from the spec's defaults. destructive and
 * idempotent mean something only for a tool that writes (the spec says so), so a read-only tool
 * publishes readOnlyHint alone. A client applying the spec's defaults reads every hint as defined.
 */
export function publishedHints(a: ToolAnnotations): Partial<ToolAnnotations> {
  const keys: Array<keyof ToolAnnotations> = a.readOnlyHint
    ? ['readOnlyHint', 'openWorldHint']
    : ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'];
  const out: Partial<ToolAnnotations> = {};
  for (const key of keys) if (a[key] !== SPEC_DEFAULT_HINTS[key]) out[key] = a[key];
  return out;
}

function toolListing(tools: readonly ToolDefinition[]): Tool[] {
  return tools.map((t) => ({
    name: t.name,
    title: t.title,
    description: t.description,
    inputSchema: jsonSchemaOf(t.inputSchema, 'input') as Tool['inputSchema'],
    ...(t.outputSchema && { outputSchema: jsonSchemaOf(t.outputSchema, 'output') as Tool['outputSchema'] }),
    annotations: publishedHints(t.annotations),
  }));
}

/** Throttle for progress notifications: at most about one a second, the last one always. */
const PROGRESS_MIN_GAP_MS = 900;

/**
 * notifications/progress for the caller's token: values only ever increase (the spec's MUST),
 * and a burst is thinned to about one a second, except the final 100.
 */
function progressReporter(
  token: string | number | undefined,
  send: (n: ServerNotification) => Promise<void>,
): (value: number, message: string) => void {
  if (token === undefined) return () => {};
  let last = -1;
  let lastAt = 0;
  return (value, message) => {
    const now = Date.now();
    if (value <= last || (value < 100 && now - lastAt < PROGRESS_MIN_GAP_MS)) return;
    last = value;
    lastAt = now;
    send({ method: 'notifications/progress', params: { progressToken: token, progress: value, total: 100, message } }).catch(
      () => {},
    );
  };
}

/**
 * The SDK's Server builds an Ajv instance per server for elicitation, which this server uses only
 * to confirm a costly start; that costs about 5 ms at start and, in HTTP mode, on every request.
 * One shared instance, made on first use, serves every server instead.
 */
let sharedAjv: AjvJsonSchemaValidator | undefined;
const lazyValidator: jsonSchemaValidator = {
  getValidator: (schema) => {
    sharedAjv ??= new AjvJsonSchemaValidator();
    return sharedAjv.getValidator(schema);
  },
};

/** The form of the spend guard's question: one yes or no. */
const CONFIRM_SCHEMA: ElicitRequestFormParams['requestedSchema'] = {
  type: 'object',
  properties: { confirm: { type: 'boolean', title: 'Start this run', description: 'true starts it and bills FLORA.' } },
  required: ['confirm'],
};

/** How long the user may take to answer it. */
const CONFIRM_TIMEOUT_MS = 5 * 60_000;

/**
 * How the spend guard asks the user to confirm a costly start: an elicitation form whose only
 * field is the boolean `confirm`. Over HTTP (stateless requests cannot carry a question back) or
 * for a client without form elicitation, why it cannot ask instead.
 */
function askerOf(server: Server, transport: 'stdio' | 'http', log: Logger): Asker {
  if (transport === 'http') {
    return { cannotAsk: 'this server is reached over HTTP, whose stateless requests cannot carry a question back to the user' };
  }
  if (!server.getClientCapabilities()?.elicitation?.form) {
    return { cannotAsk: 'this MCP client cannot show the user a question (it declares no form elicitation capability)' };
  }
  return {
    async ask(message, signal): Promise<Answer> {
      try {
        const reply = await server.elicitInput(
          { mode: 'form', message, requestedSchema: CONFIRM_SCHEMA },
          { signal, timeout: CONFIRM_TIMEOUT_MS },
        );
        if (reply.action === 'accept') return reply.content?.confirm === true ? 'confirmed' : 'declined';
        return reply.action === 'cancel' ? 'cancelled' : 'declined';
      } catch (err) {
        if (signal.aborted) throw CancelledError.of('The call was cancelled while the user was asked to confirm a run.', err);
        log.warn(`confirmation question failed: ${(err as Error).message}`);
        return 'unanswered';
      }
    },
  };
}

/** How long a client may take to answer roots/list before a local file is refused. */
const ROOTS_TIMEOUT_MS = 10_000;

/**
 * The client's roots, asked for on first need and cached; roots/list_changed drops the cache.
 * Undefined when the client declares no roots capability. A failed listing is not cached.
 */
function rootsOf(server: Server, timeoutMs: number): () => Promise<readonly string[] | undefined> {
  let cached: Promise<readonly string[]> | undefined;
  server.setNotificationHandler(RootsListChangedNotificationSchema, () => {
    cached = undefined;
  });
  return async () => {
    if (!server.getClientCapabilities()?.roots) return undefined;
    cached ??= server.listRoots(undefined, { timeout: timeoutMs }).then((r) => r.roots.map((root) => root.uri));
    const listing = cached;
    try {
      return await listing;
    } catch (err) {
      if (cached === listing) cached = undefined;
      throw err;
    }
  };
}

/** A registry's listing is computed once, however many servers share it (HTTP: one per request). */
const listings = new WeakMap<readonly ToolDefinition[], Tool[]>();
function cachedListing(tools: readonly ToolDefinition[]): Tool[] {
  let listing = listings.get(tools);
  if (!listing) {
    listing = toolListing(tools);
    listings.set(tools, listing);
  }
  return listing;
}

/** What the agent reads for a tool this server does not offer: what it does offer, and why not that one. */
function unknownToolMessage(name: string, tools: readonly ToolDefinition[], config: Config): string {
  const available = `Available tools: ${tools.map((t) => t.name).join(', ') || 'none'}.`;
  const toolset = toolsetOfTool(name);
  if (toolset === undefined || config.toolsets.includes(toolset)) return `Unknown tool "${name}". ${available}`;
  return `Tool "${name}" is in the toolset "${toolset}", which this server does not enable (enabled: ${config.toolsets.join(', ')}; the user sets FLORA_TOOLSETS or --toolsets). ${available}`;
}

export function createServer(deps: ServerDeps): FloraMcpServer {
  const { config } = deps;
  const log = deps.logger ?? silentLogger;
  const tools = deps.tools ?? buildTools(config);
  if (tools.length === 0) {
    log.warn(
      `no tools offered: the toolsets enabled (${config.toolsets.join(', ')}) have none in this version; see FLORA_TOOLSETS`,
    );
  }
  const runs = new RunMemory();
  const ledger = deps.spend ?? new SpendLedger();
  const limits = { maxRunUsd: config.maxRunUsd, spendLimitUsd: config.spendLimitUsd };
  const byName = new Map(tools.map((t) => [t.name, t]));
  const redact = makeRedactor(config.apiKey);
  const problem = configurationProblem(config);
  const client =
    problem === undefined
      ? FloraClient.fromConfig(
          { ...config, apiKey: config.apiKey as string },
          { logger: log, fetch: deps.fetch, ...deps.clientOptions },
        )
      : undefined;
  const catalog = client && new ModelCatalog(client, log, undefined, deps.lookupTimeoutMs);
  const techniques = client && new TechniqueCatalog(client, log, undefined, deps.lookupTimeoutMs);

  const server = new Server(
    { name: SERVER_NAME, title: 'FLORA generations', version: VERSION },
    { capabilities: { tools: {} }, instructions: INSTRUCTIONS, jsonSchemaValidator: lazyValidator },
  );
  server.onerror = (err) => log.warn(`MCP transport: ${err.message}`);
  const roots = rootsOf(server, deps.rootsTimeoutMs ?? ROOTS_TIMEOUT_MS);
  const transport = deps.transport ?? 'stdio';

  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: cachedListing(tools) }));

  let running = 0;
  let idleWaiters: Array<() => void> = [];

  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const tool = byName.get(request.params.name);
    if (!tool) {
      // A JSON-RPC -32602, as the spec asks. A plain Error with a code keeps the wire message
      // free of McpError's "MCP error -32602:" prefix, which the client adds once more.
      throw Object.assign(new Error(unknownToolMessage(request.params.name, tools, config)), {
        code: ErrorCode.InvalidParams,
      });
    }
    running++;
    const t0 = Date.now();
    try {
      if (client === undefined || catalog === undefined || techniques === undefined) {
        throw ConfigurationError.of(problem as string);
      }
      const args = tool.inputSchema.safeParse(request.params.arguments ?? {});
      if (!args.success) throw invalidArguments(tool.name, args.error);
      const progress = progressReporter(request.params._meta?.progressToken, extra.sendNotification);
      const spend = { ledger, limits, asker: askerOf(server, transport, log) };
      const ctx = { client, signal: extra.signal, log, progress, runs, catalog, techniques, transport, roots, spend };
      const out = await tool.handler(args.data, ctx);
      const { value: structured, json } = redactedJson(out.structured, redact);
      if (tool.outputSchema && !tool.outputSchema.safeParse(structured).success)
        throw unexpectedError(new Error(`output of ${tool.name} does not fit its schema`));
      log.info(`${tool.name} ok in ${Date.now() - t0} ms`);
      return toToolResult(structured, out.extraContent && redactValue(out.extraContent, redact), json);
    } catch (err) {
      const floraError = err instanceof FloraError ? err : unexpectedError(err);
      if (floraError.code === 'internal_error') log.error(`${tool.name} failed unexpectedly`, err);
      else log.info(`${tool.name} -> ${floraError.code} in ${Date.now() - t0} ms`);
      // Redact the error's fields, then render: redacting rendered JSON could eat its escapes.
      return toToolError(floraError, redact);
    } finally {
      running--;
      if (running === 0) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  });

  return {
    server,
    inFlight: () => running,
    idle: () => (running === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve))),
  };
}

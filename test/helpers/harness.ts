/**
 * Test harness: the real server (createServer) behind a real SDK Client over InMemoryTransport,
 * configured against a fake FLORA, exactly as a user's env would configure it.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import {
  type CallToolResult,
  type ElicitRequest,
  ElicitRequestSchema,
  type ElicitResult,
  ListRootsRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { ErrorPayload } from '../../src/errors.js';
import type { FloraClientOptions } from '../../src/flora/client.js';
import type { Logger } from '../../src/log.js';
import { createServer, type FloraMcpServer } from '../../src/server.js';
import type { ToolDefinition } from '../../src/tools/tool.js';
import { FAKE_KEY, FakeFlora } from './fake-flora.js';

export interface Connected {
  client: Client;
  mcp: FloraMcpServer;
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Extra or overriding env; FLORA_API_KEY and FLORA_BASE_URL default to the fake's. */
  env?: Record<string, string | undefined>;
  /** Backoff defaults to a few ms so retry tests stay fast. */
  clientOptions?: Partial<FloraClientOptions>;
  /** The caps on a pre-flight catalog lookup and on roots/list (default: the server's 5 s and 10 s). */
  lookupTimeoutMs?: number;
  rootsTimeoutMs?: number;
  logger?: Logger;
  /** Tools to serve instead of the ones the config enables. */
  tools?: readonly ToolDefinition[];
  /**
   * Declare the roots capability and answer roots/list with these file:// URIs. The array is read
   * at each roots/list: change it, then `client.sendRootsListChanged()`.
   */
  roots?: string[];
  /** How the server believes it is reached (default stdio). */
  transport?: 'stdio' | 'http';
  /** Declare the elicitation capability and answer each elicitation/create with this (the user's answer). */
  elicit?: (params: ElicitRequest['params']) => ElicitResult | Promise<ElicitResult>;
  /** The fetch every outgoing request goes through (FLORA and media hosts alike); default: the real one. */
  fetch?: typeof fetch;
}

export async function connect(fake: FakeFlora | undefined, opts: ConnectOptions = {}): Promise<Connected> {
  const config = loadConfig({
    FLORA_API_KEY: FAKE_KEY,
    FLORA_BASE_URL: fake?.baseUrl,
    ...opts.env,
  });
  const mcp = createServer({
    config,
    logger: opts.logger,
    tools: opts.tools,
    clientOptions: { baseBackoffMs: 5, maxBackoffMs: 20, ...opts.clientOptions },
    lookupTimeoutMs: opts.lookupTimeoutMs,
    rootsTimeoutMs: opts.rootsTimeoutMs,
    transport: opts.transport,
    fetch: opts.fetch,
  });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await mcp.server.connect(serverTransport);
  const { roots, elicit } = opts;
  const capabilities = {
    ...(roots ? { roots: { listChanged: true } } : {}),
    ...(elicit ? { elicitation: {} } : {}),
  };
  const client = new Client({ name: 'vitest', version: '0' }, { capabilities });
  if (roots) client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: roots.map((uri) => ({ uri })) }));
  if (elicit) client.setRequestHandler(ElicitRequestSchema, (request) => elicit(request.params));
  await client.connect(clientTransport);
  return {
    client,
    mcp,
    call: (name, args = {}) => client.callTool({ name, arguments: args }) as Promise<CallToolResult>,
    close: async () => {
      await client.close();
      await mcp.server.close();
    },
  };
}

/** The text of the first content block. */
export function textOf(result: CallToolResult): string {
  const first = result.content[0];
  if (first?.type !== 'text') throw new Error(`expected a text block, got ${JSON.stringify(result.content)}`);
  return first.text;
}

/** The `error` object of an isError result; fails when the call succeeded. */
export function errorOf(result: CallToolResult): ErrorPayload {
  if (result.isError !== true) throw new Error(`expected an error result, got ${JSON.stringify(result)}`);
  if (result.structuredContent !== undefined) throw new Error('an error result must not carry structuredContent');
  const parsed = JSON.parse(textOf(result)) as { error: ErrorPayload };
  return parsed.error;
}

/** The structuredContent of a successful result; fails on an error result. */
export function structuredOf<T = Record<string, unknown>>(result: CallToolResult): T {
  if (result.isError) throw new Error(`expected success, got ${textOf(result)}`);
  return result.structuredContent as T;
}

export const VALID_START = {
  project_id: 'prj_mugs',
  workspace_id: 'ws_studio',
  prompt: 'a ceramic mug on a wooden table',
  type: 'image',
} as const;

/** The generate toolset's tools, in the order tools/list gives them. */
export const GENERATE_TOOL_NAMES = [
  'list_workspaces',
  'list_projects',
  'list_models',
  'start_generation_run',
  'poll_run',
] as const;
/** The techniques toolset's tools, in tools/list order. */
export const TECHNIQUES_TOOL_NAMES = ['list_techniques', 'run_technique'] as const;
/** The batch toolset's tools, in tools/list order. */
export const BATCH_TOOL_NAMES = ['start_generation_batch', 'poll_runs'] as const;
/** The tools a server offers by default (every toolset), in the order tools/list gives them. */
/** The media toolset's tools, in tools/list order. */
export const MEDIA_TOOL_NAMES = ['upload_media', 'preview_media'] as const;
export const TOOL_NAMES = [...GENERATE_TOOL_NAMES, ...MEDIA_TOOL_NAMES, ...TECHNIQUES_TOOL_NAMES, ...BATCH_TOOL_NAMES] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

/** A valid run_technique call: tech_product-shot with its one required input. */
export const VALID_TECHNIQUE_RUN = {
  technique_id: 'tech_product-shot',
  workspace_id: 'ws_studio',
  inputs: { product: 'https://media.flora.ai/uploads/mug.png' },
} as const;

/** Arguments each tool's schema accepts; the type makes every tool of TOOL_NAMES have some. */
const VALID_ARGS: { readonly [T in ToolName]: Readonly<Record<string, unknown>> } = {
  list_workspaces: {},
  list_projects: { workspace_id: 'ws_studio' },
  list_models: {},
  start_generation_run: VALID_START,
  poll_run: { run_id: 'run_abc123' },
  upload_media: { source: 'https://example.com/mug.png', workspace_id: 'ws_studio' },
  preview_media: { run_id: 'run_abc123' },
  list_techniques: {},
  run_technique: VALID_TECHNIQUE_RUN,
  start_generation_batch: { generations: [VALID_START] },
  poll_runs: { run_ids: ['run_abc123'] },
};

/**
 * One valid call per tool, in TOOL_NAMES order: configuration errors must win over every one of
 * them. Valid, not successful: poll_run's run does not exist.
 */
export const VALID_CALLS: ReadonlyArray<readonly [ToolName, Readonly<Record<string, unknown>>]> = TOOL_NAMES.map(
  (name) => [name, VALID_ARGS[name]] as const,
);

/**
 * One fake FLORA for the test file: started before all tests, reset before each, and after each
 * (once `cleanup` ran) any request that no route served fails the test.
 */
export function useFakeFlora(onStart: (fake: FakeFlora) => void, cleanup?: () => Promise<void> | void): void {
  let fake: FakeFlora | undefined;
  beforeAll(async () => {
    fake = await FakeFlora.start();
    onStart(fake);
  });
  afterAll(async () => {
    await fake?.close();
  });
  beforeEach(() => fake?.reset());
  afterEach(async () => {
    await cleanup?.();
    fake?.assertAllRouted();
  });
}

/**
 * A successful result as the agent gets it: not an error, the first block the JSON of
 * structuredContent, and `extraBlocks` more blocks after it. Returns structuredContent.
 */
export function success(result: CallToolResult, extraBlocks = 0): Record<string, unknown> {
  expect(result.isError ?? false, JSON.stringify(result.content)).toBe(false);
  expect(result.content).toHaveLength(1 + extraBlocks);
  expect(textOf(result)).toBe(JSON.stringify(result.structuredContent));
  return structuredOf(result);
}

/** An error result as the agent gets it: one text block holding only {"error":{...}}. */
export function failure(result: CallToolResult): ErrorPayload {
  expect(result.isError).toBe(true);
  expect(result.structuredContent).toBeUndefined();
  expect(result.content).toHaveLength(1);
  expect(Object.keys(JSON.parse(textOf(result)) as object)).toEqual(['error']);
  return errorOf(result);
}

export interface Connections {
  /**
   * The test's connection, listed as MCP hosts do first (so the SDK client validates
   * structuredContent): the current one when called without options, else a new one.
   */
  open(opts?: ConnectOptions): Promise<Connected>;
  /** The connection opened last; fails when none is. */
  current(): Connected;
}

/** useFakeFlora plus client connections that are closed after each test. */
export function useConnections(onStart: (fake: FakeFlora) => void, cleanup?: () => Promise<void> | void): Connections {
  let fake: FakeFlora | undefined;
  let opened: Connected[] = [];
  useFakeFlora(
    (f) => {
      fake = f;
      onStart(f);
    },
    async () => {
      for (const c of opened) await c.close();
      opened = [];
      await cleanup?.();
    },
  );
  return {
    async open(opts) {
      const last = opened.at(-1);
      if (last && opts === undefined) return last;
      const conn = await connect(fake, opts);
      await conn.client.listTools();
      opened.push(conn);
      return conn;
    },
    current() {
      const last = opened.at(-1);
      if (!last) throw new Error('open() first');
      return last;
    },
  };
}

/**
 * What a tool is: a plain object with zod 4 input/output schemas, annotations and a handler that
 * returns structured data or throws. Turning that into MCP results (and errors into actionable
 * `isError` results) happens in one place: toToolResult / toToolError here, called by server.ts.
 */
import type * as z from 'zod';
import type { CallToolResult, ContentBlock } from '@modelcontextprotocol/sdk/types.js';
import type { Config } from '../config.js';
import { FloraError, InvalidArgumentsError, type FieldIssue } from '../errors.js';
import type { ModelCatalog } from '../flora/catalog.js';
import type { FloraClient } from '../flora/client.js';
import type { RunMemory } from '../flora/run-memory.js';
import type { SpendGuard } from '../flora/spend.js';
import type { TechniqueCatalog } from '../flora/technique-catalog.js';
import { redactValue, type Logger, type Redactor } from '../log.js';

export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

export interface ToolContext {
  client: FloraClient;
  /** Aborted when the MCP client cancels the call. */
  signal: AbortSignal;
  log: Logger;
  /** Progress 0-100 for the caller's progressToken; a no-op when the caller sent none. */
  progress(value: number, message: string): void;
  /** What this server knows of the runs it started (estimates), shared across calls. */
  runs: RunMemory;
  /** FLORA's model catalog, cached, for pre-flight checks. */
  catalog: ModelCatalog;
  /** How the client reached this server. Over HTTP, a local path would name the server's files, not the user's. */
  transport: 'stdio' | 'http';
  /**
   * The client's MCP roots (file:// URIs; cached, dropped on roots/list_changed), or undefined when
   * the client declares no roots capability. Rejects when the client fails to list them.
   */
  roots(): Promise<readonly string[] | undefined>;
  /** Technique definitions, cached, for pre-flight checks of technique runs. */
  techniques: TechniqueCatalog;
  /** The user's spend limits, this account's ledger, and how to ask the user to confirm a costly start. */
  spend: SpendGuard;
}

export interface ToolOutput<T> {
  structured: T;
  /** Blocks after the text block that holds the structured JSON (e.g. resource links). */
  extraContent?: ContentBlock[];
}

/** What the user's configuration decides about the tools' schemas and behaviour. */
export type ToolOptions = Pick<Config, 'maxWaitSeconds' | 'defaultWorkspaceId' | 'defaultProjectId'>;

export interface ToolDefinition<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  description: string;
  inputSchema: I;
  /**
   * The fields every answer has, published and checked. A list tool has none: its answer is a
   * page of FLORA's records, which its description names; a schema of "an array" would cost
   * every conversation tools/list bytes and tell the model nothing more.
   */
  outputSchema?: O;
  annotations: ToolAnnotations;
  handler(args: z.output<I>, ctx: ToolContext): Promise<ToolOutput<z.output<O>>>;
}

/** Every tool is made from the user's configuration (its defaults and bounds shape the schemas). */
export type ToolFactory = (options: ToolOptions) => ToolDefinition;

/** Identity with inference, so each tool file gets typed handler arguments. */
export function defineTool<I extends z.ZodObject, O extends z.ZodObject = z.ZodObject>(
  def: ToolDefinition<I, O>,
): ToolDefinition {
  return def as unknown as ToolDefinition;
}

export function toToolResult(
  structured: Record<string, unknown>,
  extraContent: ContentBlock[] = [],
  json = JSON.stringify(structured),
): CallToolResult {
  return {
    content: [{ type: 'text', text: json }, ...extraContent],
    structuredContent: structured,
  };
}

/**
 * An error result carries no structuredContent: the SDK client validates structuredContent
 * against the success outputSchema even when isError is set.
 */
export function toToolError(err: FloraError, redact: Redactor = (t) => t): CallToolResult {
  const payload = redactValue(err.toPayload(), redact);
  return { isError: true, content: [{ type: 'text', text: JSON.stringify({ error: payload }) }] };
}

/** zod issues as the fields the agent must fix. */
export function invalidArguments(tool: string, error: z.ZodError): InvalidArgumentsError {
  const fields: FieldIssue[] = error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        field: [...issue.path, key].join('.'),
        message: 'not a parameter of this tool (model-specific settings go inside params)',
      }));
    }
    return [{ field: issue.path.join('.') || '(arguments)', message: issue.message }];
  });
  const summary = fields.map((f) => `${f.field}: ${f.message}`).join('; ');
  return InvalidArgumentsError.of(
    `Invalid arguments for ${tool}: ${summary}. Fix them and call again; nothing was sent to FLORA.`,
    fields,
  );
}

export function unexpectedError(err: unknown): FloraError {
  const detail = err instanceof Error ? err.message : String(err);
  return new FloraError(
    'internal_error',
    `The FLORA MCP server failed unexpectedly (${detail}). This is a bug in the server, not in your request; nothing more can be done by retrying with other arguments.`,
    { retryable: false },
  );
}

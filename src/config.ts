/**
 * Configuration comes from env only, under the names FLORA's own SDK reads. Pure: the caller
 * passes the env. A bad value never stops the server from starting (the client would only show
 * "server disconnected"); instead every tool call answers `configuration_error` naming the
 * variable to fix, and the problem is logged to stderr at start.
 */
import * as z from 'zod';
import { isLoopbackHost, parseMediaHosts } from './flora/media-hosts.js';
import { makeRedactor } from './log.js';
import { loadProxyConfig, type ProxyConfig } from './proxy.js';

export const LOG_LEVELS = ['off', 'error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Groups of tools a user can enable (FLORA_TOOLSETS, --toolsets); the registry fills them. */
export const TOOLSET_NAMES = ['generate', 'media', 'techniques', 'batch'] as const;
export type ToolsetName = (typeof TOOLSET_NAMES)[number];

export const DEFAULT_BASE_URL = 'https://app.flora.ai/api/v1';
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_RETRIES = 2;
/** Claude Desktop cuts a tool call at about 60 s: a wait must end, and answer, before that. */
export const DEFAULT_MAX_WAIT_SECONDS = 50;

export interface Config {
  /** Undefined when FLORA_API_KEY is unset or blank. */
  apiKey: string | undefined;
  baseUrl: URL;
  timeoutMs: number;
  maxRetries: number;
  /** Upper bound of a tool call's wait_seconds. */
  maxWaitSeconds: number;
  /** FLORA_WORKSPACE_ID: used when a call names no workspace. */
  defaultWorkspaceId: string | undefined;
  /** FLORA_PROJECT_ID: used when a call names no project. */
  defaultProjectId: string | undefined;
  logLevel: LogLevel;
  /** FLORA_TOOLSETS: the toolsets whose tools are listed and callable (default: all). */
  toolsets: readonly ToolsetName[];
  /** HTTPS_PROXY, HTTP_PROXY and NO_PROXY (either case), read once at start. */
  proxy: ProxyConfig;
  /** FLORA_MAX_RUN_USD: a start estimated above it, or of unknown cost, needs the user's confirmation. */
  maxRunUsd: number | undefined;
  /** FLORA_SPEND_LIMIT_USD: what the runs this server process starts may spend in total. */
  spendLimitUsd: number | undefined;
  /** FLORA_MEDIA_HOSTS: hosts preview_media may fetch besides FLORA's own (lowercase; `*.` for subdomains). */
  mediaHosts: readonly string[];
  /** One line per invalid variable, each naming it. Empty when the config is usable. */
  problems: string[];
}

/**
 * Blank counts as unset, as in FLORA's SDK; so does an .mcpb placeholder left unsubstituted
 * ("${user_config.max_run_usd}"), which hosts pass through for an optional setting left empty.
 */
function read(env: Record<string, string | undefined>, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' || /^\$\{user_config\.\w+\}$/.test(v) ? undefined : v;
}

function parseBaseUrl(raw: string | undefined, problems: string[]): URL {
  if (raw === undefined) return new URL(DEFAULT_BASE_URL);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    problems.push(`FLORA_BASE_URL is not a URL (got "${raw}"); use e.g. ${DEFAULT_BASE_URL}`);
    return new URL(DEFAULT_BASE_URL);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    problems.push(
      `FLORA_BASE_URL must use https (plain http is allowed only for localhost) so the API key is never sent in clear text; got "${url.origin}"`,
    );
    return new URL(DEFAULT_BASE_URL);
  }
  if (url.username || url.password || url.search || url.hash) {
    problems.push('FLORA_BASE_URL must not contain credentials, a query or a fragment');
    return new URL(DEFAULT_BASE_URL);
  }
  return url;
}

const IntSetting = z.coerce.number().int();

function readInt(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  min: number,
  max: number,
  problems: string[],
): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const parsed = IntSetting.safeParse(raw);
  if (!parsed.success || parsed.data < min || parsed.data > max) {
    problems.push(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
    return fallback;
  }
  return parsed.data;
}

/** An amount of US dollars, such as FLORA_MAX_RUN_USD: a plain decimal number, 0 or more. */
function readUsd(env: Record<string, string | undefined>, name: string, problems: string[]): number | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  // Digits only: Number() would take "0x10" as 16 and "1e3" as 1000, and "$5" is not a number.
  const usd = /^(\d+(\.\d*)?|\.\d+)$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(usd)) {
    problems.push(`${name} must be an amount of US dollars, 0 or more, such as 0.50 or 10 (got "${raw}")`);
    return undefined;
  }
  return usd;
}

/** An ID default such as FLORA_WORKSPACE_ID, checked for FLORA's prefix. */
function readId(env: Record<string, string | undefined>, name: string, prefix: string, problems: string[]): string | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  if (!new RegExp(`^${prefix}\\S+$`).test(raw)) {
    problems.push(`${name} must be a FLORA ID starting with "${prefix}" (got "${raw}")`);
    return undefined;
  }
  return raw;
}

/**
 * A comma list of toolset names, or every toolset when unset. An unknown name makes the whole
 * setting a problem (all toolsets are listed meanwhile; every call answers configuration_error).
 */
export function parseToolsets(raw: string | undefined, source: string, problems: string[]): readonly ToolsetName[] {
  if (raw === undefined) return TOOLSET_NAMES;
  const names = raw
    .split(',')
    .map((n) => n.trim().toLowerCase())
    .filter(Boolean);
  const unknown = names.filter((n) => !(TOOLSET_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0) {
    problems.push(
      `${source} must be a comma list of ${TOOLSET_NAMES.join(', ')} (got ${unknown.length ? `unknown "${unknown.join('", "')}"` : `"${raw}"`})`,
    );
    return TOOLSET_NAMES;
  }
  return TOOLSET_NAMES.filter((n) => names.includes(n));
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  const problems: string[] = [];
  const baseUrl = parseBaseUrl(read(env, 'FLORA_BASE_URL'), problems);
  const timeoutMs = readInt(env, 'FLORA_TIMEOUT_MS', DEFAULT_TIMEOUT_MS, 100, 600_000, problems);
  const maxRetries = readInt(env, 'FLORA_MAX_RETRIES', DEFAULT_MAX_RETRIES, 0, 5, problems);
  const maxWaitSeconds = readInt(env, 'FLORA_MAX_WAIT_SECONDS', DEFAULT_MAX_WAIT_SECONDS, 0, 600, problems);

  const defaultWorkspaceId = readId(env, 'FLORA_WORKSPACE_ID', 'ws_', problems);
  const defaultProjectId = readId(env, 'FLORA_PROJECT_ID', 'prj_', problems);

  const rawLevel = read(env, 'FLORA_LOG');
  let logLevel: LogLevel = 'warn';
  if (rawLevel !== undefined) {
    const level = rawLevel.toLowerCase();
    if ((LOG_LEVELS as readonly string[]).includes(level)) logLevel = level as LogLevel;
    else problems.push(`FLORA_LOG must be one of ${LOG_LEVELS.join(', ')} (got "${rawLevel}")`);
  }

  const toolsets = parseToolsets(read(env, 'FLORA_TOOLSETS'), 'FLORA_TOOLSETS', problems);
  const maxRunUsd = readUsd(env, 'FLORA_MAX_RUN_USD', problems);
  const spendLimitUsd = readUsd(env, 'FLORA_SPEND_LIMIT_USD', problems);

  const proxy = loadProxyConfig((name) => read(env, name), problems);
  const mediaHosts = parseMediaHosts(read(env, 'FLORA_MEDIA_HOSTS'), problems);

  const apiKey = read(env, 'FLORA_API_KEY');
  if (apiKey !== undefined && /[\s\u0000-\u001f\u007f]/.test(apiKey)) {
    problems.push('FLORA_API_KEY contains whitespace or control characters; paste the key exactly as FLORA showed it');
  }

  // Messages quote the bad values; a key pasted into the wrong variable must not be quoted back.
  const redact = makeRedactor(apiKey);
  return {
    apiKey,
    baseUrl,
    timeoutMs,
    maxRetries,
    maxWaitSeconds,
    defaultWorkspaceId,
    defaultProjectId,
    logLevel,
    toolsets,
    proxy,
    maxRunUsd,
    spendLimitUsd,
    mediaHosts,
    problems: problems.map(redact),
  };
}

export const MISSING_KEY_MESSAGE =
  'FLORA_API_KEY is not set. Add it to the "env" block of this server in your MCP client config ' +
  '(e.g. "env": {"FLORA_API_KEY": "sk_live_..."}), then restart the client. Create a key in FLORA under Settings -> API Keys.';

/** The reason no call can be made, or undefined when the config is usable. */
export function configurationProblem(config: Config): string | undefined {
  if (config.problems.length > 0) {
    return `Invalid server configuration: ${config.problems.join('; ')}. Fix it in the "env" block of this server in your MCP client config and restart the client.`;
  }
  if (config.apiKey === undefined) return MISSING_KEY_MESSAGE;
  return undefined;
}

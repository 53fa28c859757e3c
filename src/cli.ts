/**
 * The command line: which mode to run, and `--check`, which tells a user in plain words whether
 * their configuration reaches FLORA. Pure apart from the FLORA call: index.ts owns `process`.
 */
import { parseArgs } from 'node:util';
import { configurationProblem, parseToolsets, TOOLSET_NAMES, type Config } from './config.js';
import { FloraError } from './errors.js';
import { FloraClient } from './flora/client.js';
import { describeProxyFor, proxyFor } from './proxy.js';
import { formatUsd } from './flora/spend.js';
import { DEFAULT_MEDIA_HOSTS_TEXT } from './flora/media-hosts.js';
import { SERVER_NAME, VERSION } from './version.js';

export interface HttpServeOptions {
  host: string;
  port: number;
  allowedHosts: string[];
  useEnvKey: boolean;
}

/** What the flags say of the configuration; wins over the env (FLORA_TOOLSETS). */
export interface ConfigFlags {
  /** --toolsets, as given (already checked to name only known toolsets). */
  toolsets?: string;
}

export type Command =
  | ({ kind: 'serve' } & ConfigFlags)
  | ({ kind: 'serve-http' } & HttpServeOptions & ConfigFlags)
  | { kind: 'help' }
  | { kind: 'version' }
  | ({ kind: 'check' } & ConfigFlags)
  | { kind: 'usage-error'; message: string };

export const USAGE = `${SERVER_NAME} ${VERSION}: an MCP server for FLORA's generation API.

Usage:
  ${SERVER_NAME} [--toolsets generate,media,...]
                          serve MCP over stdio (what an MCP client runs)
  ${SERVER_NAME} --transport http [--host 127.0.0.1] [--port 3000]
      [--allowed-hosts name,...] [--use-env-key]
                          serve Streamable HTTP at /mcp for many clients; each request
                          brings its own key (Authorization: Bearer, or X-Flora-Api-Key).
                          --allowed-hosts: host names clients may address (default:
                          loopback names). --use-env-key: let requests without a key spend
                          FLORA_API_KEY from this server's env (anyone who reaches the
                          port then spends your credits).
  ${SERVER_NAME} --check    check the configuration: list the workspaces FLORA_API_KEY reaches
  ${SERVER_NAME} --version  print the version
  ${SERVER_NAME} --help     print this help

  --toolsets LIST         the toolsets to offer, a comma list of ${TOOLSET_NAMES.join(', ')}
                          (default: all); wins over FLORA_TOOLSETS. generate: find IDs and
                          models, start and poll generations. media, techniques, batch: your
                          own images and video, FLORA techniques, many runs at once.

Configuration (environment variables):
  FLORA_API_KEY            your FLORA API key (required for calls)
  FLORA_BASE_URL           default https://app.flora.ai/api/v1
  FLORA_WORKSPACE_ID       default workspace (ws_...) for calls that name none
  FLORA_PROJECT_ID         default project (prj_...) for calls that name none
  FLORA_TIMEOUT_MS         per HTTP attempt, default 30000
  FLORA_MAX_RETRIES        retries of 429/5xx/connection failures, default 2
  FLORA_MAX_WAIT_SECONDS   longest wait_seconds a call may ask for, default 50
  FLORA_LOG                stderr log level: off, error, warn (default), info, debug
  FLORA_TOOLSETS           toolsets to offer, as --toolsets (default: all)
  HTTPS_PROXY              proxy for https:// requests (FLORA, uploads), with credentials if
                           it wants them: http://user:password@proxy.example.com:8080
  HTTP_PROXY               proxy for http:// requests
  NO_PROXY                 hosts that bypass the proxy: host, .domain, host:port, or *
                           (lower-case https_proxy, http_proxy, no_proxy are read too, and win)
  FLORA_MAX_RUN_USD        per-run limit in US$: a start estimated above it, or of unknown
                          cost, needs your confirmation (refused if the client cannot ask)
  FLORA_SPEND_LIMIT_USD    total limit in US$ for the runs this server process starts;
                          a start that would cross it is refused (default for both: none)
  FLORA_MEDIA_HOSTS        more hosts preview_media may fetch images from, a comma list
                           (default: only ${DEFAULT_MEDIA_HOSTS_TEXT}, https);
                           plain http only for a loopback host listed here
`;

function parseOptions(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
      check: { type: 'boolean' },
      transport: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'allowed-hosts': { type: 'string' },
      'use-env-key': { type: 'boolean' },
      toolsets: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
}

export function parseCommand(argv: readonly string[]): Command {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (err) {
    return { kind: 'usage-error', message: (err as Error).message };
  }
  const { help, version, check } = parsed.values;
  if ([help, version, check].filter(Boolean).length > 1) {
    return { kind: 'usage-error', message: 'Use one of --help, --version or --check at a time.' };
  }
  const v = parsed.values;
  const flags: ConfigFlags = {};
  if (v.toolsets !== undefined) {
    const problems: string[] = [];
    parseToolsets(v.toolsets, '--toolsets', problems);
    if (problems[0] !== undefined) return { kind: 'usage-error', message: `${problems[0]}.` };
    flags.toolsets = v.toolsets;
  }
  if (help) return { kind: 'help' };
  if (version) return { kind: 'version' };
  if (check) return { kind: 'check', ...flags };
  const transport = v.transport ?? 'stdio';
  if (transport !== 'stdio' && transport !== 'http') {
    return { kind: 'usage-error', message: `--transport must be stdio or http (got "${transport}").` };
  }
  if (transport === 'stdio') {
    const httpOnly = ['host', 'port', 'allowed-hosts', 'use-env-key'].filter((k) => v[k as keyof typeof v] !== undefined);
    if (httpOnly.length) return { kind: 'usage-error', message: `--${httpOnly[0]} needs --transport http.` };
    return { kind: 'serve', ...flags };
  }
  // Digits only: Number() would take "" as 0 (a random port), "0x50" as 80 and "1e3" as 1000.
  const port = v.port === undefined ? 3000 : /^\d{1,5}$/.test(v.port) ? Number(v.port) : Number.NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    return { kind: 'usage-error', message: `--port must be a port number (got "${v.port}").` };
  }
  // A blank host would listen on every interface: never what a loopback default was meant to be.
  if (v.host !== undefined && v.host.trim() === '') {
    return { kind: 'usage-error', message: '--host needs an address to listen on, e.g. 127.0.0.1 (got a blank one).' };
  }
  const allowedHosts = (v['allowed-hosts'] ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  return {
    kind: 'serve-http',
    host: v.host ?? '127.0.0.1',
    port,
    allowedHosts,
    useEnvKey: v['use-env-key'] ?? false,
    ...flags,
  };
}

export interface CheckResult {
  ok: boolean;
  text: string;
}

/** `--check`: GET /workspaces with the configured env, and the exact reason when it fails. */
export async function runCheck(config: Config, fetchImpl?: typeof fetch): Promise<CheckResult> {
  const where = `FLORA at ${config.baseUrl.href}`;
  const proxyLine = `${describeProxyFor(config.baseUrl, config.proxy)}\n`;
  const problem = configurationProblem(config);
  if (problem !== undefined) return { ok: false, text: `FAILED: ${problem}\n` };
  const client = FloraClient.fromConfig({ ...config, apiKey: config.apiKey as string }, { fetch: fetchImpl });
  try {
    const { workspaces } = await client.listWorkspaces();
    const lines = workspaces.map((w) => `  ${w.workspace_id}  ${w.name}${w.role ? ` (${w.role})` : ''}`);
    const defaults = [
      config.defaultWorkspaceId && !workspaces.some((w) => w.workspace_id === config.defaultWorkspaceId)
        ? `WARNING: FLORA_WORKSPACE_ID ${config.defaultWorkspaceId} is not among them.`
        : undefined,
    ].filter(Boolean);
    return {
      ok: true,
      text: `OK: ${where} accepts the key; it reaches ${workspaces.length} workspace(s):\n${lines.join('\n')}\n${defaults.map((d) => `${d}\n`).join('')}Toolsets offered: ${config.toolsets.join(', ')}.\n${spendLine(config)}\n${mediaHostsLine(config)}${proxyLine}`,
    };
  } catch (err) {
    if (!(err instanceof FloraError)) throw err;
    // The proxy line when it may be the reason: the request went through one, or never arrived.
    const proxied = proxyFor(config.baseUrl, config.proxy) !== undefined;
    const unreached = ['network_error', 'timeout', 'proxy_auth_required'].includes(err.code);
    return { ok: false, text: `FAILED: ${where}: ${checkReason(err)}\n${proxied || unreached ? proxyLine : ''}` };
  }
}

/** The spend limits in effect, as --check reports them. */
function spendLine(config: Config): string {
  const run =
    config.maxRunUsd === undefined
      ? 'no per-run limit (FLORA_MAX_RUN_USD unset)'
      : `FLORA_MAX_RUN_USD ${formatUsd(config.maxRunUsd)} per run (costlier or unpriced runs need your confirmation)`;
  const total =
    config.spendLimitUsd === undefined
      ? 'no total limit (FLORA_SPEND_LIMIT_USD unset)'
      : `FLORA_SPEND_LIMIT_USD ${formatUsd(config.spendLimitUsd)} in total per server process`;
  return `Spend limits: ${run}; ${total}.`;
}

/** Where preview_media may fetch images from: FLORA's hosts, and FLORA_MEDIA_HOSTS. */
function mediaHostsLine(config: Config): string {
  const extra = config.mediaHosts.length > 0 ? `, and from FLORA_MEDIA_HOSTS: ${config.mediaHosts.join(', ')}` : '';
  return `preview_media fetches images only from ${DEFAULT_MEDIA_HOSTS_TEXT} (https)${extra}.\n`;
}

function checkReason(err: FloraError): string {
  switch (err.code) {
    case 'unauthorized':
    case 'invalid_api_key':
      return `the API key was refused (${err.code}). Check FLORA_API_KEY: create or copy a key in FLORA under Settings -> API Keys.`;
    case 'forbidden':
    case 'paid_plan_required':
      return `the key is valid but not allowed to use the API (${err.code}); FLORA's API needs a paid plan. ${err.message}`;
    case 'network_error':
    case 'timeout':
      return `could not reach FLORA (${err.code}): ${err.message}`;
    case 'upstream_error':
      if (err.retryable) {
        return `FLORA, or a proxy in front of it, failed (${err.code}${err.status ? `, HTTP ${err.status}` : ''}); this is usually transient: try again shortly. ${err.message}`;
      }
      return `this does not answer like the FLORA API (${err.code}${err.status ? `, HTTP ${err.status}` : ''}). Check FLORA_BASE_URL (default https://app.flora.ai/api/v1). ${err.message}`;
    case 'not_found':
      return `this does not answer like the FLORA API (${err.code}${err.status ? `, HTTP ${err.status}` : ''}). Check FLORA_BASE_URL (default https://app.flora.ai/api/v1). ${err.message}`;
    default:
      return `${err.code}: ${err.message}`;
  }
}

/**
 * src/cli.ts in-process: parseCommand (which mode a command line selects, and the usage error a
 * user reads when it is wrong) and runCheck (`--check` against the fake FLORA: the workspaces on
 * success, the exact reason otherwise, never the key). The e2e tests drive the same code through
 * the built bundle; these run against src, so a mutant of cli.ts is seen by them.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseCommand, runCheck, USAGE, type CheckResult, type Command } from '../src/cli.js';
import {
  configurationProblem,
  DEFAULT_BASE_URL,
  DEFAULT_MAX_RETRIES,
  DEFAULT_MAX_WAIT_SECONDS,
  DEFAULT_TIMEOUT_MS,
  loadConfig,
  LOG_LEVELS,
  MISSING_KEY_MESSAGE,
} from '../src/config.js';
import { SERVER_NAME, VERSION } from '../src/version.js';
import { FAKE_KEY, faults, floraError, type FakeFlora } from './helpers/fake-flora.js';
import { useFakeFlora } from './helpers/harness.js';

const HTTP_DEFAULTS = { kind: 'serve-http', host: '127.0.0.1', port: 3000, allowedHosts: [], useEnvKey: false } as const;
const MODE_CONFLICT = 'Use one of --help, --version or --check at a time.';

function usageError(argv: string[]): string {
  const command = parseCommand(argv);
  if (command.kind !== 'usage-error')
    throw new Error(`expected a usage error for ${JSON.stringify(argv)}, got ${JSON.stringify(command)}`);
  return command.message;
}

function http(...args: string[]): Command {
  return parseCommand(['--transport', 'http', ...args]);
}

describe('parseCommand: the mode', () => {
  it('no arguments serve MCP over stdio', () => {
    expect(parseCommand([])).toEqual({ kind: 'serve' });
  });

  it.each([
    [['--help'], 'help'],
    [['-h'], 'help'],
    [['--version'], 'version'],
    [['-v'], 'version'],
    [['--check'], 'check'],
    [['--check', '--check'], 'check'],
  ] as const)('%j selects %s', (argv, kind) => {
    expect(parseCommand(argv)).toEqual({ kind });
  });

  it.each([
    [['--help', '--version']],
    [['--version', '--help']],
    [['--help', '--check']],
    [['--check', '--version']],
    [['-hv']],
    [['-h', '--version', '--check']],
  ])('%j asks for one mode at a time', (argv) => {
    expect(parseCommand(argv)).toEqual({ kind: 'usage-error', message: MODE_CONFLICT });
  });

  it('--help wins over transport options, even a wrong one', () => {
    expect(parseCommand(['--transport', 'carrier-pigeon', '--help'])).toEqual({ kind: 'help' });
    expect(parseCommand(['--port', 'x', '--version'])).toEqual({ kind: 'version' });
  });

  it('a mode flag takes no value', () => {
    expect(usageError(['--help=yes'])).toContain("'-h, --help' does not take an argument");
    expect(usageError(['--check=1'])).toContain("'--check' does not take an argument");
  });
});

describe('parseCommand: what it refuses', () => {
  it.each([
    [['--verbose'], "Unknown option '--verbose'"],
    [['-x'], "Unknown option '-x'"],
    [['--transport', 'http', '--hots', 'a'], "Unknown option '--hots'"],
    [['serve'], "Unexpected argument 'serve'"],
    [['--', 'x'], "Unexpected argument 'x'"],
    [['--transport', 'http', 'extra'], "Unexpected argument 'extra'"],
  ])('%j: %s', (argv, message) => {
    expect(usageError(argv)).toContain(message);
  });

  it.each([
    [['--transport'], "Option '--transport <value>' argument missing"],
    [['--transport', 'http', '--port'], "Option '--port <value>' argument missing"],
    [['--transport', 'http', '--host'], "Option '--host <value>' argument missing"],
    [['--transport', 'http', '--allowed-hosts'], "Option '--allowed-hosts <value>' argument missing"],
  ])('%j: %s', (argv, message) => {
    expect(usageError(argv)).toContain(message);
  });

  it('a flag where a value belongs is not taken as the value', () => {
    expect(usageError(['--transport', 'http', '--port', '--host', '0.0.0.0'])).toContain("'--port' argument is ambiguous");
  });

  it('--use-env-key is a switch, not a setting', () => {
    expect(usageError(['--transport', 'http', '--use-env-key=yes'])).toContain("'--use-env-key' does not take an argument");
  });
});

describe('parseCommand: --transport', () => {
  it('stdio, named or not, is plain serve', () => {
    expect(parseCommand(['--transport', 'stdio'])).toEqual({ kind: 'serve' });
    expect(parseCommand(['--transport=stdio'])).toEqual({ kind: 'serve' });
  });

  it('http alone gets loopback, port 3000, loopback host names and no env key', () => {
    expect(http()).toEqual(HTTP_DEFAULTS);
    expect(parseCommand(['--transport=http'])).toEqual(HTTP_DEFAULTS);
  });

  it.each(['HTTP', 'sse', 'https', 'Stdio', ''])('--transport %j names the two it takes and echoes the value', (value) => {
    expect(parseCommand(['--transport', value])).toEqual({
      kind: 'usage-error',
      message: `--transport must be stdio or http (got "${value}").`,
    });
  });

  it.each([
    [['--host', '0.0.0.0'], '--host'],
    [['--port', '8080'], '--port'],
    [['--port', 'not-a-port'], '--port'],
    [['--allowed-hosts', 'mcp.example.com'], '--allowed-hosts'],
    [['--use-env-key'], '--use-env-key'],
  ])('%j without --transport http says so', (argv, flag) => {
    const message = `${flag} needs --transport http.`;
    expect(parseCommand(argv)).toEqual({ kind: 'usage-error', message });
    expect(parseCommand(['--transport', 'stdio', ...argv])).toEqual({ kind: 'usage-error', message });
  });

  it('with several HTTP-only flags on stdio, one of them is named', () => {
    expect(usageError(['--use-env-key', '--port', '1'])).toMatch(/^--(port|use-env-key) needs --transport http\.$/);
  });
});

describe('parseCommand: HTTP options', () => {
  it('--host is taken as given', () => {
    expect(http('--host', '0.0.0.0')).toEqual({ ...HTTP_DEFAULTS, host: '0.0.0.0' });
    expect(http('--host', '::1')).toEqual({ ...HTTP_DEFAULTS, host: '::1' });
    expect(http('--host=10.0.0.5')).toEqual({ ...HTTP_DEFAULTS, host: '10.0.0.5' });
  });

  it('a blank --host is refused: it would listen on every interface', () => {
    for (const host of ['', '  ']) {
      expect(http('--host', host)).toEqual({
        kind: 'usage-error',
        message: '--host needs an address to listen on, e.g. 127.0.0.1 (got a blank one).',
      });
    }
  });

  it.each([
    ['0', 0],
    ['1', 1],
    ['80', 80],
    ['8080', 8080],
    ['65534', 65534],
    ['65535', 65535],
  ])('--port %s is port %i', (raw, port) => {
    expect(http('--port', raw)).toEqual({ ...HTTP_DEFAULTS, port });
  });

  it.each(['65536', '70000', '99999', 'abc', '80.5', '3000abc', 'NaN', 'Infinity', '', ' ', '0x50', '1e3', '+80'])(
    '--port "%s" is refused, quoting it',
    (raw) => {
      expect(http('--port', raw)).toEqual({ kind: 'usage-error', message: `--port must be a port number (got "${raw}").` });
    },
  );

  it('a negative --port is refused, quoting it', () => {
    expect(http('--port=-1')).toEqual({ kind: 'usage-error', message: '--port must be a port number (got "-1").' });
  });

  it('--allowed-hosts is a comma list, trimmed, blanks dropped, order and case kept', () => {
    expect(http('--allowed-hosts', 'mcp.example.com')).toEqual({ ...HTTP_DEFAULTS, allowedHosts: ['mcp.example.com'] });
    expect(http('--allowed-hosts', 'mcp.example.com,mcp.internal')).toEqual({
      ...HTTP_DEFAULTS,
      allowedHosts: ['mcp.example.com', 'mcp.internal'],
    });
    expect(http('--allowed-hosts', ' b.example , ,A.example,')).toEqual({
      ...HTTP_DEFAULTS,
      allowedHosts: ['b.example', 'A.example'],
    });
    expect(http('--allowed-hosts', '')).toEqual(HTTP_DEFAULTS);
    expect(http('--allowed-hosts', ' , ')).toEqual(HTTP_DEFAULTS);
  });

  it('--use-env-key turns the env key on; without it, off', () => {
    expect(http('--use-env-key')).toEqual({ ...HTTP_DEFAULTS, useEnvKey: true });
    expect(http()).toMatchObject({ useEnvKey: false });
  });

  it('every option together, in any order', () => {
    const expected = {
      kind: 'serve-http',
      host: '0.0.0.0',
      port: 8443,
      allowedHosts: ['mcp.example.com', 'mcp.internal'],
      useEnvKey: true,
    };
    expect(
      parseCommand([
        '--transport',
        'http',
        '--host',
        '0.0.0.0',
        '--port',
        '8443',
        '--allowed-hosts',
        'mcp.example.com,mcp.internal',
        '--use-env-key',
      ]),
    ).toEqual(expected);
    expect(
      parseCommand([
        '--use-env-key',
        '--allowed-hosts=mcp.example.com,mcp.internal',
        '--port=8443',
        '--host=0.0.0.0',
        '--transport=http',
      ]),
    ).toEqual(expected);
  });
});

describe('parseCommand: --toolsets', () => {
  it('is passed on as given for stdio, HTTP and --check, and absent when not given', () => {
    expect(parseCommand(['--toolsets', 'generate,batch'])).toEqual({ kind: 'serve', toolsets: 'generate,batch' });
    expect(parseCommand(['--toolsets=media', '--transport', 'http'])).toEqual({
      kind: 'serve-http',
      host: '127.0.0.1',
      port: 3000,
      allowedHosts: [],
      useEnvKey: false,
      toolsets: 'media',
    });
    expect(parseCommand(['--check', '--toolsets', ' Generate , techniques '])).toEqual({
      kind: 'check',
      toolsets: ' Generate , techniques ',
    });
    expect(parseCommand([])).toEqual({ kind: 'serve' });
  });

  it('refuses an unknown toolset, naming it and the valid ones', () => {
    expect(parseCommand(['--toolsets', 'generate,vidoe'])).toEqual({
      kind: 'usage-error',
      message: '--toolsets must be a comma list of generate, media, techniques, batch (got unknown "vidoe").',
    });
  });

  it('refuses a missing or blank value', () => {
    const missing = parseCommand(['--toolsets']);
    expect(missing.kind).toBe('usage-error');
    expect(missing.kind === 'usage-error' && missing.message).toContain('--toolsets');
    expect(parseCommand(['--toolsets', ' , '])).toEqual({
      kind: 'usage-error',
      message: '--toolsets must be a comma list of generate, media, techniques, batch (got " , ").',
    });
  });
});

describe('USAGE', () => {
  it('opens with the name and version', () => {
    expect(USAGE.startsWith(`${SERVER_NAME} ${VERSION}: `)).toBe(true);
  });

  it('names exactly the flags parseCommand takes, and each is accepted', () => {
    const flags = [...new Set(USAGE.match(/--[a-z][a-z-]*/g))].sort();
    expect(flags).toEqual([
      '--allowed-hosts',
      '--check',
      '--help',
      '--host',
      '--port',
      '--toolsets',
      '--transport',
      '--use-env-key',
      '--version',
    ]);
    for (const flag of flags) {
      const command = parseCommand([
        '--transport',
        'http',
        flag,
        ...(['--use-env-key', '--check', '--help', '--version'].includes(flag) ? [] : [flag === '--toolsets' ? 'generate' : '1']),
      ]);
      expect(command.kind === 'usage-error' ? command.message : '', flag).not.toMatch(/Unknown option|Unexpected argument/);
    }
  });

  it('shows the HTTP defaults parseCommand applies', () => {
    const defaults = http();
    expect(defaults.kind).toBe('serve-http');
    if (defaults.kind !== 'serve-http') return;
    expect(USAGE).toContain(`[--host ${defaults.host}] [--port ${defaults.port}]`);
  });

  it('lists every variable with the default loadConfig applies', () => {
    const config = loadConfig({});
    expect(USAGE).toContain('FLORA_API_KEY ');
    expect(USAGE).toContain(`FLORA_BASE_URL           default ${DEFAULT_BASE_URL}\n`);
    expect(config.baseUrl.href).toBe(DEFAULT_BASE_URL);
    expect(USAGE).toContain('FLORA_WORKSPACE_ID ');
    expect(USAGE).toContain('FLORA_PROJECT_ID ');
    expect(USAGE).toContain(`FLORA_TIMEOUT_MS         per HTTP attempt, default ${DEFAULT_TIMEOUT_MS}\n`);
    expect(USAGE).toContain(`FLORA_MAX_RETRIES        retries of 429/5xx/connection failures, default ${DEFAULT_MAX_RETRIES}\n`);
    expect(USAGE).toContain(
      `FLORA_MAX_WAIT_SECONDS   longest wait_seconds a call may ask for, default ${DEFAULT_MAX_WAIT_SECONDS}\n`,
    );
    expect(USAGE).toContain(
      `FLORA_LOG                stderr log level: ${LOG_LEVELS.join(', ').replace(config.logLevel, `${config.logLevel} (default)`)}\n`,
    );
    expect(USAGE).toContain('FLORA_MAX_RUN_USD        per-run limit in US$');
    expect(USAGE).toContain('FLORA_SPEND_LIMIT_USD    total limit in US$');
    expect(USAGE).toContain('(default for both: none)');
    expect([config.maxRunUsd, config.spendLimitUsd]).toEqual([undefined, undefined]);
  });
});

describe('runCheck against FLORA', () => {
  let fake: FakeFlora;
  useFakeFlora((f) => (fake = f));

  /** The env a user would write for --check: the fake FLORA, and no retries unless asked for. */
  function check(env: Record<string, string | undefined> = {}, fetchImpl?: typeof fetch): Promise<CheckResult> {
    return runCheck(
      loadConfig({ FLORA_API_KEY: FAKE_KEY, FLORA_BASE_URL: fake.baseUrl, FLORA_MAX_RETRIES: '0', ...env }),
      fetchImpl,
    );
  }

  /** A failed check as the user reads it: FAILED, where, the reason; never a key. */
  function expectFailed(result: CheckResult, base: string, reason: string, keys: string[] = [FAKE_KEY]): void {
    expect(result.ok).toBe(false);
    expect(result.text.startsWith(`FAILED: FLORA at ${base}: ${reason}`), result.text).toBe(true);
    expect(result.text.endsWith('\n')).toBe(true);
    for (const key of keys) expect(result.text).not.toContain(key);
  }

  const NO_LIMITS = 'Spend limits: no per-run limit (FLORA_MAX_RUN_USD unset); no total limit (FLORA_SPEND_LIMIT_USD unset).';
  const ok = (
    base: string,
    lines: string[],
    warnings: string[] = [],
    toolsets = 'generate, media, techniques, batch',
    spend = NO_LIMITS,
    media = 'media.flora.ai, ik.imagekit.io, *.flora.ai (https)',
  ) =>
    `OK: FLORA at ${base} accepts the key; it reaches ${lines.length} workspace(s):\n${lines.join('\n')}\n` +
    warnings.map((w) => `${w}\n`).join('') +
    `Toolsets offered: ${toolsets}.\n${spend}\n` +
    `preview_media fetches images only from ${media}.\n` +
    'Proxy: none (HTTPS_PROXY and HTTP_PROXY are not set).\n';

  describe('success', () => {
    it('lists every workspace the key reaches, with its role, from one GET /workspaces with the key', async () => {
      const result = await check();
      expect(result).toEqual({
        ok: true,
        text: ok(fake.baseUrl, ['  ws_studio  Studio (owner)', '  ws_client  Client work (member)']),
      });
      expect(result.text).not.toContain(FAKE_KEY);
      expect(fake.requests.map((r) => `${r.method} ${r.rawPath}`)).toEqual(['GET /api/v1/workspaces']);
      expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
    });

    it('a workspace without a role shows no parentheses', async () => {
      fake.route('GET /workspaces', () => ({ status: 200, body: { workspaces: [{ workspace_id: 'ws_solo', name: 'Solo' }] } }));
      expect(await check()).toEqual({ ok: true, text: ok(fake.baseUrl, ['  ws_solo  Solo']) });
    });

    it('a key that reaches no workspace still works', async () => {
      fake.workspaces = [];
      expect(await check()).toEqual({ ok: true, text: ok(fake.baseUrl, []) });
    });

    it('says nothing about FLORA_WORKSPACE_ID when it is among them', async () => {
      expect(await check({ FLORA_WORKSPACE_ID: 'ws_client' })).toEqual({
        ok: true,
        text: ok(fake.baseUrl, ['  ws_studio  Studio (owner)', '  ws_client  Client work (member)']),
      });
    });

    it('warns, still OK, when FLORA_WORKSPACE_ID is not among them', async () => {
      expect(await check({ FLORA_WORKSPACE_ID: 'ws_gone' })).toEqual({
        ok: true,
        text: ok(
          fake.baseUrl,
          ['  ws_studio  Studio (owner)', '  ws_client  Client work (member)'],
          ['WARNING: FLORA_WORKSPACE_ID ws_gone is not among them.'],
        ),
      });
    });

    it('names the toolsets the configuration offers', async () => {
      expect(await check({ FLORA_TOOLSETS: 'batch, generate' })).toEqual({
        ok: true,
        text: ok(fake.baseUrl, ['  ws_studio  Studio (owner)', '  ws_client  Client work (member)'], [], 'generate, batch'),
      });
    });

    it('names the spend limits in effect', async () => {
      expect(await check({ FLORA_MAX_RUN_USD: '0.5', FLORA_SPEND_LIMIT_USD: '10' })).toEqual({
        ok: true,
        text: ok(
          fake.baseUrl,
          ['  ws_studio  Studio (owner)', '  ws_client  Client work (member)'],
          [],
          undefined,
          'Spend limits: FLORA_MAX_RUN_USD US$0.50 per run (costlier or unpriced runs need your confirmation); FLORA_SPEND_LIMIT_USD US$10.00 in total per server process.',
        ),
      });
      expect(fake.requests.map((r) => `${r.method} ${r.rawPath}`)).toEqual(['GET /api/v1/workspaces']);
    });

    it('names the media hosts preview_media may fetch from, FLORA_MEDIA_HOSTS included', async () => {
      expect(await check({ FLORA_MEDIA_HOSTS: 'Mirror.Example.com, *.cdn.example.com' })).toEqual({
        ok: true,
        text: ok(
          fake.baseUrl,
          ['  ws_studio  Studio (owner)', '  ws_client  Client work (member)'],
          [],
          undefined,
          undefined,
          'media.flora.ai, ik.imagekit.io, *.flora.ai (https), and from FLORA_MEDIA_HOSTS: mirror.example.com, *.cdn.example.com',
        ),
      });
    });

    it('reports the base URL as configured, trailing slash included', async () => {
      const result = await check({ FLORA_BASE_URL: `${fake.baseUrl}/` });
      expect(result.ok).toBe(true);
      expect(result.text.startsWith(`OK: FLORA at ${fake.baseUrl}/ accepts the key;`)).toBe(true);
      expect(fake.requests.map((r) => r.rawPath)).toEqual(['/api/v1/workspaces']);
    });

    it('uses the fetch it is given', async () => {
      const seen: Array<{ url: string; auth: string | null }> = [];
      const stub: typeof fetch = async (input, init) => {
        seen.push({ url: String(input), auth: new Headers(init?.headers).get('authorization') });
        return new Response(JSON.stringify({ workspaces: [{ workspace_id: 'ws_stub', name: 'Stub', role: 'viewer' }] }), {
          status: 200,
          headers: { 'content-type': 'application/json' },
        });
      };
      expect(await check({}, stub)).toEqual({ ok: true, text: ok(fake.baseUrl, ['  ws_stub  Stub (viewer)']) });
      expect(seen).toEqual([{ url: `${fake.baseUrl}/workspaces`, auth: `Bearer ${FAKE_KEY}` }]);
      expect(fake.requests).toEqual([]);
    });
  });

  describe('configuration it cannot use: nothing is sent', () => {
    it('no key: the missing-key message, which says where the key goes', async () => {
      for (const key of [undefined, '', '   ']) {
        expect(await check({ FLORA_API_KEY: key })).toEqual({ ok: false, text: `FAILED: ${MISSING_KEY_MESSAGE}\n` });
      }
      expect(MISSING_KEY_MESSAGE).toContain('FLORA_API_KEY is not set');
      expect(fake.requests).toEqual([]);
    });

    it('an invalid variable: named, with the value it got', async () => {
      const env = { FLORA_API_KEY: FAKE_KEY, FLORA_BASE_URL: fake.baseUrl, FLORA_TIMEOUT_MS: 'soon' };
      const result = await check(env);
      expect(result).toEqual({ ok: false, text: `FAILED: ${configurationProblem(loadConfig(env))}\n` });
      expect(result.text).toContain('FLORA_TIMEOUT_MS must be an integer from 100 to 600000 (got "soon")');
      expect(result.text).not.toContain(FAKE_KEY);
      expect(fake.requests).toEqual([]);
    });

    it('a key with whitespace in it is refused before it is sent, and not quoted back', async () => {
      const result = await check({ FLORA_API_KEY: 'sk_live_pasted with space' });
      expect(result.ok).toBe(false);
      expect(result.text).toContain('FLORA_API_KEY contains whitespace or control characters');
      expect(result.text).not.toContain('sk_live_pasted');
      expect(fake.requests).toEqual([]);
    });

    it('a plain-http FLORA_BASE_URL off this machine is refused before the key is sent', async () => {
      const result = await check({ FLORA_BASE_URL: 'http://flora.example.com/api/v1' });
      expect(result.ok).toBe(false);
      expect(result.text.startsWith('FAILED: Invalid server configuration: FLORA_BASE_URL must use https')).toBe(true);
      expect(result.text).not.toContain(FAKE_KEY);
      expect(fake.requests).toEqual([]);
    });
  });

  describe('FLORA refuses the key', () => {
    const REFUSED = (code: string) =>
      `the API key was refused (${code}). Check FLORA_API_KEY: create or copy a key in FLORA under Settings -> API Keys.\n`;

    it('a wrong key (401 invalid_api_key): refused, the key not repeated', async () => {
      const wrong = 'sk_live_wrong_key_123';
      const result = await check({ FLORA_API_KEY: wrong });
      expect(result).toEqual({ ok: false, text: `FAILED: FLORA at ${fake.baseUrl}: ${REFUSED('invalid_api_key')}` });
      expectFailed(result, fake.baseUrl, REFUSED('invalid_api_key'), [wrong, FAKE_KEY]);
      expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${wrong}`);
    });

    it('401 unauthorized reads the same', async () => {
      fake.route('GET /workspaces', () => floraError(401, 'unauthorized', 'Missing Authorization header.'));
      expect(await check()).toEqual({ ok: false, text: `FAILED: FLORA at ${fake.baseUrl}: ${REFUSED('unauthorized')}` });
    });

    it.each(['forbidden', 'paid_plan_required'])("403 %s: valid key, no API access, FLORA's words kept", async (code) => {
      fake.route('GET /workspaces', () => floraError(403, code, 'Your plan does not include API access'));
      const result = await check();
      expectFailed(
        result,
        fake.baseUrl,
        `the key is valid but not allowed to use the API (${code}); FLORA's API needs a paid plan. Your plan does not include API access.`,
      );
    });
  });

  describe('FLORA cannot be reached', () => {
    async function closedPort(): Promise<number> {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return port;
    }

    it('nothing listening: network_error, naming the host and the refusal', async () => {
      const port = await closedPort();
      const base = `http://127.0.0.1:${port}/api/v1`;
      const result = await check({ FLORA_BASE_URL: base });
      expect(result).toEqual({
        ok: false,
        text: `FAILED: FLORA at ${base}: could not reach FLORA (network_error): The connection to 127.0.0.1:${port} failed before FLORA answered (ECONNREFUSED). This is usually transient: try again shortly.\nProxy: none (HTTPS_PROXY and HTTP_PROXY are not set).\n`,
      });
    });

    it('retries as FLORA_MAX_RETRIES says, and says so', async () => {
      const port = await closedPort();
      const base = `http://127.0.0.1:${port}/api/v1`;
      const result = await check({ FLORA_BASE_URL: base, FLORA_MAX_RETRIES: '1' });
      expectFailed(result, base, `could not reach FLORA (network_error): The connection to 127.0.0.1:${port} failed`);
      // A failure to reach FLORA says which proxy, if any, the request took.
      expect(result.text.endsWith('(gave up after 2 attempts)\nProxy: none (HTTPS_PROXY and HTTP_PROXY are not set).\n')).toBe(
        true,
      );
    });

    it('no answer within FLORA_TIMEOUT_MS: timeout, naming the variable and its value', async () => {
      fake.route('GET /workspaces', faults.hang);
      const result = await check({ FLORA_TIMEOUT_MS: '100' });
      expect(result).toEqual({
        ok: false,
        text: `FAILED: FLORA at ${fake.baseUrl}: could not reach FLORA (timeout): FLORA did not answer within 100 ms (FLORA_TIMEOUT_MS). This is usually transient: try again shortly.\nProxy: none (HTTPS_PROXY and HTTP_PROXY are not set).\n`,
      });
    });
  });

  describe('FLORA_BASE_URL does not point at the FLORA API', () => {
    const NOT_FLORA = (detail: string) =>
      `this does not answer like the FLORA API (${detail}). Check FLORA_BASE_URL (default ${DEFAULT_BASE_URL}). `;

    it('a wrong path (404 not_found): names the code, the status and the variable', async () => {
      const base = `${fake.origin}/v2`;
      const result = await check({ FLORA_BASE_URL: base });
      expectFailed(result, base, `${NOT_FLORA('not_found, HTTP 404')}No route for GET /v2/workspaces.`);
      expect(fake.unrouted.map((r) => r.rawPath)).toEqual(['/v2/workspaces']);
      fake.unrouted.length = 0; // that request was the point
    });

    it('an HTML 404 page: upstream_error, HTTP 404', async () => {
      fake.route('GET /workspaces', faults.html(404));
      const result = await check();
      expectFailed(
        result,
        fake.baseUrl,
        `${NOT_FLORA('upstream_error, HTTP 404')}FLORA answered HTTP 404 with a body that is not FLORA's JSON error (text/html, `,
      );
    });

    it('a web page answering 200 (FLORA_BASE_URL set to the site, not the API)', async () => {
      fake.route('GET /workspaces', () => ({
        status: 200,
        headers: { 'content-type': 'text/html' },
        body: '<!doctype html><title>FLORA</title>',
      }));
      const result = await check();
      expectFailed(
        result,
        fake.baseUrl,
        `${NOT_FLORA('upstream_error, HTTP 200')}FLORA answered HTTP 200 but the body is not valid JSON`,
      );
    });

    it('a redirect (to a login page): not followed, upstream_error with its status', async () => {
      fake.route('GET /workspaces', () => ({ status: 302, headers: { location: 'https://login.example.com/' }, body: '' }));
      const result = await check();
      expectFailed(
        result,
        fake.baseUrl,
        `${NOT_FLORA('upstream_error, HTTP 302')}FLORA answered 302 with a redirect to https://login.example.com/.`,
      );
    });
  });

  it('an HTML 502 from a proxy: transient, not a wrong FLORA_BASE_URL', async () => {
    fake.route('GET /workspaces', faults.html(502));
    const result = await check();
    expectFailed(
      result,
      fake.baseUrl,
      "FLORA, or a proxy in front of it, failed (upstream_error, HTTP 502); this is usually transient: try again shortly. FLORA answered HTTP 502 with a body that is not FLORA's JSON error (text/html, ",
    );
    expect(result.text).not.toContain('FLORA_BASE_URL');
  });

  it("any other FLORA error: its code and FLORA's message", async () => {
    fake.route('GET /workspaces', () => floraError(500, 'internal_error', 'Something broke'));
    expect(await check()).toEqual({
      ok: false,
      text: `FAILED: FLORA at ${fake.baseUrl}: internal_error: Something broke. This is a transient FLORA server problem: wait a few seconds and try again.\n`,
    });
  });
});

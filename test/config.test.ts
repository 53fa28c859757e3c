/**
 * loadConfig / configurationProblem: what a user's "env" block turns into, and the message they
 * see when it is wrong.
 */
import { describe, it, expect } from 'vitest';
import { configurationProblem, DEFAULT_BASE_URL, loadConfig, MISSING_KEY_MESSAGE } from '../src/config.js';

const KEY = 'sk_live_Config7Secret_9d2e';

function problemFor(env: Record<string, string | undefined>): string | undefined {
  return configurationProblem(loadConfig({ FLORA_API_KEY: KEY, ...env }));
}

/** Every variable of `badEnv` is wrong: all are reported at once, one problem each, the message naming each. */
function expectAllReported(badEnv: Record<string, string>): void {
  const config = loadConfig({ FLORA_API_KEY: KEY, ...badEnv });

  expect(config.problems).toHaveLength(Object.keys(badEnv).length);
  const problem = configurationProblem(config);
  for (const name of Object.keys(badEnv)) expect(problem).toContain(name);
}

describe('defaults', () => {
  it('an empty env gives FLORA defaults and asks for the key', () => {
    const config = loadConfig({});

    expect(config.apiKey).toBeUndefined();
    expect(config.baseUrl.href).toBe('https://app.flora.ai/api/v1');
    expect(config.timeoutMs).toBe(30_000);
    expect(config.maxRetries).toBe(2);
    expect(config.maxWaitSeconds).toBe(50);
    expect(config.defaultWorkspaceId).toBeUndefined();
    expect(config.defaultProjectId).toBeUndefined();
    expect(config.logLevel).toBe('warn');
    expect(config.mediaHosts).toEqual([]);
    expect(config.problems).toEqual([]);
  });

  it('a key alone is a usable configuration', () => {
    const config = loadConfig({ FLORA_API_KEY: KEY });

    expect(config.apiKey).toBe(KEY);
    expect(config.problems).toEqual([]);
    expect(configurationProblem(config)).toBeUndefined();
  });

  it('blank values count as unset and fall back to the defaults', () => {
    const config = loadConfig({
      FLORA_API_KEY: '   ',
      FLORA_BASE_URL: '',
      FLORA_TIMEOUT_MS: ' ',
      FLORA_MAX_RETRIES: '',
      FLORA_LOG: '\t',
    });

    expect(config.apiKey).toBeUndefined();
    expect(config.baseUrl.href).toBe('https://app.flora.ai/api/v1');
    expect(config.timeoutMs).toBe(30_000);
    expect(config.maxRetries).toBe(2);
    expect(config.logLevel).toBe('warn');
    expect(config.problems).toEqual([]);
    expect(configurationProblem(config)).toBe(MISSING_KEY_MESSAGE);
  });

  it('the key is trimmed, and valid settings are taken', () => {
    const config = loadConfig({
      FLORA_API_KEY: `  ${KEY}\n`,
      FLORA_TIMEOUT_MS: '12000',
      FLORA_LOG: 'DEBUG',
    });

    expect(config.apiKey).toBe(KEY);
    expect(config.timeoutMs).toBe(12_000);
    expect(config.logLevel).toBe('debug');
    expect(configurationProblem(config)).toBeUndefined();
  });
});

describe('missing key', () => {
  it('points the user at FLORA_API_KEY in the "env" block', () => {
    const problem = configurationProblem(loadConfig({ FLORA_BASE_URL: 'https://app.flora.ai/api/v1' }));

    expect(problem).toBeDefined();
    expect(problem).toMatch(/FLORA_API_KEY is not set/);
    expect(problem).toMatch(/"env" block/);
  });
});

describe('invalid settings name the variable to fix', () => {
  it.each(['abc', '0', '1.5', '-5', '99999999'])('FLORA_TIMEOUT_MS=%s', (value) => {
    const config = loadConfig({ FLORA_API_KEY: KEY, FLORA_TIMEOUT_MS: value });

    expect(config.problems).toHaveLength(1);
    expect(config.problems[0]).toMatch(/FLORA_TIMEOUT_MS/);
    const problem = configurationProblem(config);
    expect(problem).toMatch(/FLORA_TIMEOUT_MS/);
    expect(problem).toMatch(/"env" block/);
    expect(problem).toContain(`"${value}"`);
  });

  it('FLORA_LOG=verbose', () => {
    const problem = problemFor({ FLORA_LOG: 'verbose' });

    expect(problem).toMatch(/FLORA_LOG must be one of off, error, warn, info, debug/);
    expect(problem).toContain('"verbose"');
  });

  it.each([
    ['not a URL', 'app.flora.ai/api/v1'],
    ['plain http to a remote host', 'http://app.flora.ai/api/v1'],
    ['plain http to a host that only starts with localhost', 'http://localhost.example.com/api/v1'],
    ['plain http to a host that only starts with 127.0.0.1', 'http://127.0.0.1.example.com/api/v1'],
    ['a non-http scheme', 'ftp://app.flora.ai/api/v1'],
    ['credentials', 'https://user:hunter2@app.flora.ai/api/v1'],
    ['a query', 'https://app.flora.ai/api/v1?debug=1'],
    ['a fragment', 'https://app.flora.ai/api/v1#x'],
  ])('FLORA_BASE_URL with %s', (_label, value) => {
    const config = loadConfig({ FLORA_API_KEY: KEY, FLORA_BASE_URL: value });

    expect(config.problems).toHaveLength(1);
    expect(config.problems[0]).toMatch(/^FLORA_BASE_URL /);
    const problem = configurationProblem(config);
    expect(problem).toMatch(/FLORA_BASE_URL/);
    expect(problem).toMatch(/"env" block/);
    // The bad URL is never used: the key could only go to FLORA itself.
    expect(config.baseUrl.href).toBe(DEFAULT_BASE_URL);
  });

  it('a credentialed base URL is not echoed back with its password', () => {
    const problem = problemFor({ FLORA_BASE_URL: 'https://user:hunter2@app.flora.ai/api/v1' });

    expect(problem).toMatch(/FLORA_BASE_URL/);
    expect(problem).not.toContain('hunter2');
  });

  it('every bad variable is reported at once', () => {
    expectAllReported({ FLORA_TIMEOUT_MS: 'abc', FLORA_LOG: 'loud' });
  });

  it('a key with whitespace inside names FLORA_API_KEY', () => {
    const problem = configurationProblem(loadConfig({ FLORA_API_KEY: 'sk_live_abc def' }));

    expect(problem).toMatch(/FLORA_API_KEY contains whitespace/);
  });
});

describe('FLORA_WORKSPACE_ID and FLORA_PROJECT_ID', () => {
  it('valid IDs are kept (trimmed) and the configuration stays usable', () => {
    const config = loadConfig({ FLORA_API_KEY: KEY, FLORA_WORKSPACE_ID: ' ws_studio\n', FLORA_PROJECT_ID: '\tprj_mugs ' });

    expect(config.defaultWorkspaceId).toBe('ws_studio');
    expect(config.defaultProjectId).toBe('prj_mugs');
    expect(config.problems).toEqual([]);
    expect(configurationProblem(config)).toBeUndefined();
  });

  it.each(['', '   ', '\t\n'])('blank (%j) counts as unset: undefined, no problem', (value) => {
    const config = loadConfig({ FLORA_API_KEY: KEY, FLORA_WORKSPACE_ID: value, FLORA_PROJECT_ID: value });

    expect(config.defaultWorkspaceId).toBeUndefined();
    expect(config.defaultProjectId).toBeUndefined();
    expect(config.problems).toEqual([]);
    expect(configurationProblem(config)).toBeUndefined();
  });

  it.each([
    ['FLORA_WORKSPACE_ID', 'ws_', 'prj_mugs'],
    ['FLORA_WORKSPACE_ID', 'ws_', 'studio'],
    ['FLORA_WORKSPACE_ID', 'ws_', 'ws_'],
    ['FLORA_WORKSPACE_ID', 'ws_', 'WS_studio'],
    ['FLORA_WORKSPACE_ID', 'ws_', 'ws_two words'],
    ['FLORA_PROJECT_ID', 'prj_', 'ws_studio'],
    ['FLORA_PROJECT_ID', 'prj_', 'proj_1'],
    ['FLORA_PROJECT_ID', 'prj_', 'prj_'],
    ['FLORA_PROJECT_ID', 'prj_', 'prj_a\tb'],
  ])('%s without its prefix %s (%j) is a problem naming the variable, and is not used', (name, prefix, value) => {
    const config = loadConfig({ FLORA_API_KEY: KEY, [name]: value });

    expect(config.problems).toHaveLength(1);
    expect(config.problems[0]).toMatch(new RegExp(`^${name} `));
    expect(config.problems[0]).toContain(`"${prefix}"`);
    expect(config.problems[0]).toContain(`"${value}"`);
    expect(config.defaultWorkspaceId).toBeUndefined();
    expect(config.defaultProjectId).toBeUndefined();
    const problem = configurationProblem(config);
    expect(problem).toMatch(new RegExp(name));
    expect(problem).toMatch(/"env" block/);
  });

  it('both wrong are reported at once, each naming its variable', () => {
    expectAllReported({ FLORA_WORKSPACE_ID: 'prj_mugs', FLORA_PROJECT_ID: 'ws_studio' });
  });

  it('a valid one is kept when the other is wrong', () => {
    const config = loadConfig({ FLORA_API_KEY: KEY, FLORA_WORKSPACE_ID: 'ws_studio', FLORA_PROJECT_ID: 'mugs' });

    expect(config.defaultWorkspaceId).toBe('ws_studio');
    expect(config.defaultProjectId).toBeUndefined();
    expect(config.problems).toHaveLength(1);
    expect(config.problems[0]).toMatch(/^FLORA_PROJECT_ID /);
  });
});

describe('loopback http is accepted for local testing', () => {
  it.each([
    ['http://127.0.0.1:1234/api/v1', 'http://127.0.0.1:1234/api/v1'],
    ['http://localhost', 'http://localhost/'],
    ['http://localhost:8080/api/v1/', 'http://localhost:8080/api/v1/'],
    ['http://[::1]:9000/api/v1', 'http://[::1]:9000/api/v1'],
    ['https://flora.example.com/api/v1', 'https://flora.example.com/api/v1'],
  ])('%s', (value, href) => {
    const config = loadConfig({ FLORA_API_KEY: KEY, FLORA_BASE_URL: value });

    expect(config.problems).toEqual([]);
    expect(config.baseUrl.href).toBe(href);
    expect(configurationProblem(config)).toBeUndefined();
  });
});

describe('the API key never appears in a problem message', () => {
  it.each([
    ['FLORA_TIMEOUT_MS', { FLORA_TIMEOUT_MS: 'abc' }],
    ['FLORA_MAX_RETRIES', { FLORA_MAX_RETRIES: '9' }],
    ['FLORA_LOG', { FLORA_LOG: 'verbose' }],
    ['FLORA_BASE_URL (not a URL)', { FLORA_BASE_URL: 'nope' }],
    ['FLORA_BASE_URL (http remote)', { FLORA_BASE_URL: 'http://app.flora.ai/api/v1' }],
    ['FLORA_BASE_URL (key as password)', { FLORA_BASE_URL: `https://u:${KEY}@app.flora.ai/api/v1` }],
    ['FLORA_BASE_URL (key in query)', { FLORA_BASE_URL: `https://app.flora.ai/api/v1?key=${KEY}` }],
    ['FLORA_BASE_URL (key in http URL)', { FLORA_BASE_URL: `http://app.flora.ai/api/v1?key=${KEY}` }],
  ])('%s', (_label, env) => {
    const problem = problemFor(env);

    expect(problem).toBeDefined();
    expect(problem).not.toContain(KEY);
  });

  it('a key with whitespace is not echoed back', () => {
    const bad = `${KEY} extra`;
    const problem = configurationProblem(loadConfig({ FLORA_API_KEY: bad }));

    expect(problem).toMatch(/FLORA_API_KEY/);
    expect(problem).not.toContain(KEY);
  });

  it.each(['FLORA_BASE_URL', 'FLORA_TIMEOUT_MS', 'FLORA_LOG', 'FLORA_WORKSPACE_ID', 'FLORA_PROJECT_ID'])(
    'the key pasted into %s by mistake is not echoed back',
    (name) => {
      const problem = problemFor({ [name]: KEY });

      expect(problem).toMatch(new RegExp(name));
      expect(problem).not.toContain(KEY);
      expect(problem?.toLowerCase()).not.toContain(KEY.toLowerCase());
    },
  );
});

describe('FLORA_TOOLSETS', () => {
  it('unset or blank offers every toolset', () => {
    expect(loadConfig({ FLORA_API_KEY: KEY }).toolsets).toEqual(['generate', 'media', 'techniques', 'batch']);
    expect(loadConfig({ FLORA_API_KEY: KEY, FLORA_TOOLSETS: '  ' }).toolsets).toEqual([
      'generate',
      'media',
      'techniques',
      'batch',
    ]);
  });

  it('a comma list is taken in the registry order, case and spaces forgiven', () => {
    const config = loadConfig({ FLORA_API_KEY: KEY, FLORA_TOOLSETS: ' Batch, generate ,,generate' });
    expect(config.toolsets).toEqual(['generate', 'batch']);
    expect(config.problems).toEqual([]);
  });

  it('an unknown name is a configuration problem naming the variable and the valid names', () => {
    expect(problemFor({ FLORA_TOOLSETS: 'generate,vidoe,images' })).toBe(
      'Invalid server configuration: FLORA_TOOLSETS must be a comma list of generate, media, techniques, batch (got unknown "vidoe", "images"). Fix it in the "env" block of this server in your MCP client config and restart the client.',
    );
    expect(problemFor({ FLORA_TOOLSETS: ',' })).toContain(
      'FLORA_TOOLSETS must be a comma list of generate, media, techniques, batch (got ",")',
    );
  });
});

describe('FLORA_MAX_RUN_USD and FLORA_SPEND_LIMIT_USD', () => {
  it('are unset by default: no limit', () => {
    const config = loadConfig({ FLORA_API_KEY: KEY });
    expect(config.maxRunUsd).toBeUndefined();
    expect(config.spendLimitUsd).toBeUndefined();
  });

  it('take amounts of US dollars, 0 included, trimmed', () => {
    const config = loadConfig({ FLORA_API_KEY: KEY, FLORA_MAX_RUN_USD: ' 0.50 ', FLORA_SPEND_LIMIT_USD: '0' });
    expect(config.maxRunUsd).toBe(0.5);
    expect(config.spendLimitUsd).toBe(0);
    expect(loadConfig({ FLORA_MAX_RUN_USD: '.25', FLORA_SPEND_LIMIT_USD: '12' })).toMatchObject({
      maxRunUsd: 0.25,
      spendLimitUsd: 12,
    });
    expect(configurationProblem(config)).toBeUndefined();
  });

  it.each(['-1', 'abc', '$5', '1e3', '0x10', '5 USD', 'Infinity', '1,50'])(
    '"%s" is a configuration problem naming the variable, for both',
    (bad) => {
      expect(problemFor({ FLORA_MAX_RUN_USD: bad })).toContain(
        `FLORA_MAX_RUN_USD must be an amount of US dollars, 0 or more, such as 0.50 or 10 (got "${bad}")`,
      );
      expect(problemFor({ FLORA_SPEND_LIMIT_USD: bad })).toContain(
        `FLORA_SPEND_LIMIT_USD must be an amount of US dollars, 0 or more, such as 0.50 or 10 (got "${bad}")`,
      );
      expectAllReported({ FLORA_MAX_RUN_USD: bad, FLORA_SPEND_LIMIT_USD: bad });
    },
  );

  it('an .mcpb placeholder a host left unfilled counts as unset, for these as for every variable', () => {
    const config = loadConfig({
      FLORA_API_KEY: KEY,
      FLORA_MAX_RUN_USD: '${user_config.max_run_usd}',
      FLORA_SPEND_LIMIT_USD: '${user_config.spend_limit_usd}',
      FLORA_WORKSPACE_ID: '${user_config.workspace_id}',
    });
    expect(config.problems).toEqual([]);
    expect(config.maxRunUsd).toBeUndefined();
    expect(config.spendLimitUsd).toBeUndefined();
    expect(config.defaultWorkspaceId).toBeUndefined();
    // Anything else that merely contains one is still read, and refused.
    expect(problemFor({ FLORA_MAX_RUN_USD: '${user_config.max_run_usd}1' })).toContain('FLORA_MAX_RUN_USD');
  });
});

describe('FLORA_MEDIA_HOSTS', () => {
  it('is a comma list of host names, lowercased, blanks dropped; ::1 in URL form', () => {
    const config = loadConfig({
      FLORA_API_KEY: KEY,
      FLORA_MEDIA_HOSTS: ' Mirror.Example.com,, *.cdn.example.com ,127.0.0.1,::1',
    });
    expect(config.mediaHosts).toEqual(['mirror.example.com', '*.cdn.example.com', '127.0.0.1', '[::1]']);
    expect(config.problems).toEqual([]);
    expect(loadConfig({ FLORA_API_KEY: KEY, FLORA_MEDIA_HOSTS: ' ' }).mediaHosts).toEqual([]);
  });

  it.each([
    ['a scheme', 'https://mirror.example.com'],
    ['a port', 'mirror.example.com:8443'],
    ['a path', 'mirror.example.com/media'],
    ['a bare wildcard', '*'],
    ['a wildcard inside', 'media.*.example.com'],
  ])('an entry with %s is a configuration problem naming the variable, and adds no host', (_label, entry) => {
    const config = loadConfig({ FLORA_API_KEY: KEY, FLORA_MEDIA_HOSTS: `media.example.com,${entry}` });
    expect(config.mediaHosts).toEqual([]);
    expect(configurationProblem(config)).toBe(
      `Invalid server configuration: FLORA_MEDIA_HOSTS must be a comma list of host names such as media.example.com or *.example.com, without scheme, port or path (got "${entry}"). Fix it in the "env" block of this server in your MCP client config and restart the client.`,
    );
  });
});

/**
 * Behind a proxy: which requests go through HTTPS_PROXY / HTTP_PROXY and which NO_PROXY exempts,
 * through the real server and a fake proxy in front of the fake FLORA; what the agent reads when
 * the proxy wants credentials (407, to a forwarded request or to CONNECT); and that the proxy
 * never gets FLORA's key except inside the request it forwards.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCheck } from '../src/cli.js';
import { loadConfig } from '../src/config.js';
import { proxyFor } from '../src/proxy.js';
import { FAKE_KEY, type FakeFlora } from './helpers/fake-flora.js';
import { FakeProxy } from './helpers/fake-proxy.js';
import { failure, success, useConnections } from './helpers/harness.js';
import { BUNDLE } from './helpers/paths.js';
import { startTlsFlora } from './helpers/tls-flora.js';

let fake: FakeFlora;
let proxy: FakeProxy;
const { open } = useConnections((f) => (fake = f));
beforeAll(async () => {
  proxy = await FakeProxy.start();
});
afterAll(() => proxy.close());
beforeEach(() => proxy.reset());

const PASSWORD = 'p@ss/w0rd';
const ENCODED_PASSWORD = encodeURIComponent(PASSWORD);
const port = () => new URL(fake.baseUrl).port;

/** list_workspaces with this env on top of the fake FLORA's. */
async function listWorkspaces(env: Record<string, string>) {
  const conn = await open({ env });
  return conn.call('list_workspaces', {});
}

describe('which proxy a URL goes through', () => {
  const via = (url: string, env: Record<string, string>) => {
    const config = loadConfig(env);
    expect(config.problems).toEqual([]);
    return proxyFor(new URL(url), config.proxy)?.url.host;
  };
  const P = 'http://proxy.corp:3128';

  it('the URL scheme picks the variable, and the lower-case spelling wins', () => {
    expect(via('https://app.flora.ai/api/v1', { HTTPS_PROXY: P })).toBe('proxy.corp:3128');
    expect(via('https://app.flora.ai/api/v1', { HTTP_PROXY: P })).toBeUndefined();
    expect(via('http://localhost:8080/', { HTTPS_PROXY: P })).toBeUndefined();
    expect(via('http://localhost:8080/', { http_proxy: P })).toBe('proxy.corp:3128');
    expect(via('https://app.flora.ai/', { https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:2' })).toBe('lower:1');
    // A bare host:port means http://, as in curl.
    expect(via('https://app.flora.ai/', { HTTPS_PROXY: 'proxy.corp:8080' })).toBe('proxy.corp:8080');
  });

  it.each([
    ['app.flora.ai', 'https://app.flora.ai/api/v1', undefined],
    ['flora.ai (a domain covers its subdomains)', 'https://app.flora.ai/api/v1', undefined],
    ['.flora.ai', 'https://app.flora.ai/api/v1', undefined],
    ['*.flora.ai', 'https://app.flora.ai/api/v1', undefined],
    ['FLORA.AI (case does not matter)', 'https://app.flora.ai/api/v1', undefined],
    ['ora.ai (not a domain of app.flora.ai)', 'https://app.flora.ai/api/v1', 'proxy.corp:3128'],
    ['app.flora.ai:443', 'https://app.flora.ai/api/v1', undefined],
    ['app.flora.ai:8443 (another port)', 'https://app.flora.ai/api/v1', 'proxy.corp:3128'],
    ['storage.googleapis.com, ik.imagekit.io', 'https://ik.imagekit.io/upload', undefined],
    ['storage.googleapis.com ik.imagekit.io', 'https://app.flora.ai/api/v1', 'proxy.corp:3128'],
    ['*', 'https://app.flora.ai/api/v1', undefined],
    ['localhost,*', 'https://app.flora.ai/api/v1', undefined],
    ['10.0.0.5', 'https://10.0.0.5/api/v1', undefined],
    ['[::1]', 'https://[::1]:8443/api/v1', undefined],
    ['[::1]:8443', 'https://[::1]:8443/api/v1', undefined],
  ])('NO_PROXY=%s', (noProxy, url, expected) => {
    const value = noProxy.replace(/ \(.*\)$/, '');
    expect(via(url, { HTTPS_PROXY: P, NO_PROXY: value })).toBe(expected);
    expect(via(url, { HTTPS_PROXY: P, no_proxy: value })).toBe(expected);
  });

  it('a value that is not a proxy URL is a configuration problem naming the variable, without its password', () => {
    const config = loadConfig({ HTTPS_PROXY: 'socks5://corp:s3cret@proxy:1080', http_proxy: 'http://' });
    expect(config.problems).toEqual([
      expect.stringMatching(
        /^HTTPS_PROXY must be an http:\/\/ or https:\/\/ proxy URL .*got "socks5:\/\/corp:\*\*\*@proxy:1080"$/,
      ),
      expect.stringMatching(/^http_proxy must be an http:\/\/ or https:\/\/ proxy URL .*got "http:\/\/"$/),
    ]);
    expect(config.problems.join()).not.toContain('s3cret');
  });
});

describe('through the server (real SDK client)', () => {
  it('sends FLORA requests through HTTP_PROXY: the proxy forwards them, FLORA gets them with the key', async () => {
    const out = success(await listWorkspaces({ HTTP_PROXY: proxy.url() }));
    expect(out.workspaces).toHaveLength(2);
    expect(proxy.requests.map((r) => `${r.method} ${r.target}`)).toEqual([`GET ${fake.baseUrl}/workspaces`]);
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /workspaces']);
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
  });

  it('sends the credentials in the proxy URL to the proxy only, decoded, as Basic Proxy-Authorization', async () => {
    proxy.credentials = `corp:${PASSWORD}`;
    success(await listWorkspaces({ http_proxy: proxy.url(`corp:${ENCODED_PASSWORD}`) }));
    expect(proxy.requests).toHaveLength(1);
    expect(proxy.requests[0]!.refused).toBeUndefined();
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]!.headers['proxy-authorization']).toBeUndefined();
  });

  it.each([
    ['127.0.0.1', () => '127.0.0.1'],
    ['the host and its port', () => `127.0.0.1:${port()}`],
    ['*', () => '*'],
    ['a list that names the host', () => 'example.com, 127.0.0.1'],
  ])('NO_PROXY with %s: FLORA is called directly, the proxy sees nothing', async (_name, noProxy) => {
    success(await listWorkspaces({ HTTP_PROXY: proxy.url(), NO_PROXY: noProxy() }));
    expect(proxy.requests).toEqual([]);
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /workspaces']);
  });

  it('NO_PROXY naming the host with another port does not exempt it', async () => {
    success(await listWorkspaces({ HTTP_PROXY: proxy.url(), NO_PROXY: '127.0.0.1:1' }));
    expect(proxy.requests).toHaveLength(1);
  });

  it('a proxy answering 407 is proxy_auth_required with status 407 saying how to give credentials; not retried, nothing reached FLORA', async () => {
    proxy.credentials = `corp:${PASSWORD}`;
    const error = failure(await listWorkspaces({ HTTP_PROXY: proxy.url() }));
    expect(error).toMatchObject({ code: 'proxy_auth_required', status: 407, retryable: false });
    expect(error.message).toContain(`The proxy ${proxy.url()} (from HTTP_PROXY) answered 407 Proxy Authentication Required`);
    expect(error.message).toContain(`HTTP_PROXY=http://USER:PASSWORD@127.0.0.1:${new URL(proxy.url()).port}`);
    expect(proxy.requests.map((r) => r.refused)).toEqual([407]);
    expect(fake.requests).toEqual([]);
  });

  it('a proxy refusing the credentials given says so, and the error never shows the password', async () => {
    proxy.credentials = `corp:${PASSWORD}`;
    const result = await listWorkspaces({ HTTP_PROXY: proxy.url(`corp:wrong${ENCODED_PASSWORD}`) });
    const error = failure(result);
    expect(error).toMatchObject({ code: 'proxy_auth_required', status: 407 });
    expect(error.message).toContain('it refused the user name and password in HTTP_PROXY');
    const text = JSON.stringify(result);
    for (const secret of [PASSWORD, ENCODED_PASSWORD, `wrong${ENCODED_PASSWORD}`, FAKE_KEY]) expect(text).not.toContain(secret);
    expect(fake.requests).toEqual([]);
  });

  it('an https:// FLORA goes through a CONNECT tunnel: a 407 to CONNECT is proxy_auth_required, and the proxy never sees the key', async () => {
    proxy.credentials = `corp:${PASSWORD}`;
    const httpsBase = `https://127.0.0.1:${port()}/api/v1`;
    const error = failure(await listWorkspaces({ FLORA_BASE_URL: httpsBase, HTTPS_PROXY: proxy.url() }));
    expect(error).toMatchObject({ code: 'proxy_auth_required', status: 407, retryable: false });
    expect(error.message).toContain('(from HTTPS_PROXY) answered 407 Proxy Authentication Required');
    expect(error.message).toContain(`nothing reached 127.0.0.1:${port()}`);
    expect(proxy.requests.map((r) => `${r.method} ${r.target}`)).toEqual([`CONNECT 127.0.0.1:${port()}`]);
    // All a proxy reads of a tunnel is the CONNECT request: no key in it, in any header.
    const connect = proxy.requests[0]!;
    expect(connect.headers.authorization).toBeUndefined();
    expect(JSON.stringify(connect.headers)).not.toContain(FAKE_KEY);
    expect(JSON.stringify(connect.headers)).not.toContain(Buffer.from(FAKE_KEY).toString('base64'));
    expect(fake.requests).toEqual([]);
  });
});

describe('a proxy that fails names itself and its variable, not FLORA', () => {
  const httpsBase = () => `https://127.0.0.1:${port()}/api/v1`;

  it('nothing listening at the proxy: network_error naming the proxy and HTTPS_PROXY', async () => {
    const closed = await FakeProxy.start();
    const url = closed.url();
    await closed.close();
    const error = failure(await listWorkspaces({ FLORA_BASE_URL: httpsBase(), HTTPS_PROXY: url, FLORA_MAX_RETRIES: '0' }));
    expect(error).toMatchObject({ code: 'network_error', retryable: true });
    expect(error.message).toBe(
      `The proxy ${url} (from HTTPS_PROXY) refused the connection (ECONNREFUSED): nothing listens there. Check HTTPS_PROXY and that the proxy is running.`,
    );
  });

  it('a CONNECT answered 502: network_error, retried, naming the proxy and the host it would not reach', async () => {
    proxy.failWith = 502;
    const error = failure(await listWorkspaces({ FLORA_BASE_URL: httpsBase(), HTTPS_PROXY: proxy.url() }));
    expect(error).toMatchObject({ code: 'network_error', retryable: true });
    expect(error.message).toContain(
      `The proxy ${proxy.url()} (from HTTPS_PROXY) answered HTTP 502 to CONNECT 127.0.0.1:${port()}`,
    );
    // FLORA_MAX_RETRIES defaults to 2: three attempts.
    expect(proxy.requests.map((r) => `${r.method} ${r.refused}`)).toEqual(Array(3).fill('CONNECT 502'));
    expect(fake.requests).toEqual([]);
  });
});

describe('--check', () => {
  const check = (env: Record<string, string>) =>
    runCheck(loadConfig({ FLORA_API_KEY: FAKE_KEY, FLORA_BASE_URL: fake.baseUrl, FLORA_MAX_RETRIES: '0', ...env }));

  it('names the proxy in use, without its credentials, and the check goes through it', async () => {
    proxy.credentials = `corp:${PASSWORD}`;
    const result = await check({ HTTP_PROXY: proxy.url(`corp:${ENCODED_PASSWORD}`) });
    expect(result.ok).toBe(true);
    expect(result.text).toContain(`\nProxy: ${proxy.url()} (from HTTP_PROXY, with credentials).\n`);
    expect(result.text).not.toContain('corp:');
    expect(result.text).not.toContain(ENCODED_PASSWORD);
    expect(proxy.requests.map((r) => r.target)).toEqual([`${fake.baseUrl}/workspaces`]);
  });

  it('says when no proxy is used, and why', async () => {
    expect((await check({})).text).toContain('\nProxy: none (HTTPS_PROXY and HTTP_PROXY are not set).\n');
    expect((await check({ HTTP_PROXY: proxy.url(), NO_PROXY: '127.0.0.1' })).text).toContain(
      '\nProxy: none (127.0.0.1 matches "127.0.0.1" in NO_PROXY; HTTP_PROXY is not used for it).\n',
    );
    expect((await check({ HTTPS_PROXY: proxy.url() })).text).toContain(
      '\nProxy: none (HTTPS_PROXY is set, but it applies to https:// URLs only; set HTTP_PROXY for http:// URLs like this one).\n',
    );
    expect(proxy.requests).toEqual([]);
  });

  it('a proxy wanting credentials fails the check with the way to give them', async () => {
    proxy.credentials = `corp:${PASSWORD}`;
    const result = await check({ HTTP_PROXY: proxy.url() });
    expect(result.ok).toBe(false);
    expect(result.text).toContain(`FAILED: FLORA at ${fake.baseUrl}: proxy_auth_required: The proxy ${proxy.url()}`);
    expect(result.text).toContain('HTTP_PROXY=http://USER:PASSWORD@');
    expect(result.text).toContain(`\nProxy: ${proxy.url()} (from HTTP_PROXY).\n`);
  });
});

describe('the built server, https:// FLORA through a CONNECT tunnel', () => {
  it('--check reaches FLORA over TLS inside the tunnel: the proxy sees only CONNECT, FLORA gets the key', async () => {
    const flora = await startTlsFlora();
    try {
      proxy.credentials = `corp:${PASSWORD}`;
      const { stdout } = await promisify(execFile)(process.execPath, [BUNDLE, '--check'], {
        env: {
          PATH: process.env.PATH ?? '',
          NODE_EXTRA_CA_CERTS: flora.certPath,
          FLORA_API_KEY: FAKE_KEY,
          FLORA_BASE_URL: flora.baseUrl,
          HTTPS_PROXY: proxy.url(`corp:${ENCODED_PASSWORD}`),
        },
        timeout: 20_000,
      });
      expect(stdout).toContain('ws_tls  Over TLS (owner)');
      expect(stdout).toContain(`Proxy: ${proxy.url()} (from HTTPS_PROXY, with credentials).`);
      expect(stdout).not.toContain(ENCODED_PASSWORD);
      expect(flora.seen).toEqual([{ path: '/api/v1/workspaces', authorization: `Bearer ${FAKE_KEY}` }]);
      expect(proxy.requests.map((r) => `${r.method} ${r.target}`)).toEqual([`CONNECT 127.0.0.1:${flora.port}`]);
      expect(JSON.stringify(proxy.requests[0]!.headers)).not.toContain(FAKE_KEY);
    } finally {
      flora.close();
    }
  });
});

/**
 * The proxy settings a user's env gives (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, in either case), and
 * which proxy, if any, a URL goes through. Pure: config.ts reads the env once at start, and every
 * request (FLORA, storage hosts) asks `proxyFor`, so `--check` tells exactly what requests do.
 *
 * The rules are curl's, which most tools share: a URL's scheme picks the variable (https:// URLs
 * use HTTPS_PROXY only, http:// URLs HTTP_PROXY only), the lower-case spelling wins, and NO_PROXY
 * is a comma (or space) list of host names, domains (`example.com` and `.example.com` both cover
 * every subdomain), IP addresses, optional `:port`s, or `*` for "never use a proxy".
 */

export type ProxyVariable = 'HTTPS_PROXY' | 'https_proxy' | 'HTTP_PROXY' | 'http_proxy';

export interface ProxySetting {
  /** The proxy, credentials included (they go to the proxy only, as Proxy-Authorization). */
  url: URL;
  /** The variable it came from, for messages. */
  variable: ProxyVariable;
}

interface NoProxyEntry {
  host: string;
  /** 0: any port. */
  port: number;
}

export interface ProxyConfig {
  https: ProxySetting | undefined;
  http: ProxySetting | undefined;
  noProxy: readonly NoProxyEntry[];
  /** NO_PROXY contains `*`: no request goes through a proxy. */
  noProxyAll: boolean;
}

export const NO_PROXY: ProxyConfig = { https: undefined, http: undefined, noProxy: [], noProxyAll: false };

/** A variable's value as config.ts reads it: trimmed, undefined when blank or unset. */
type Read = (name: string) => string | undefined;

/** A proxy URL as it can be shown: scheme, host and port, never the user name or password. */
export function proxyLabel(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

/** A raw value quoted back in an error, with a password (user:password@) masked. */
function masked(raw: string): string {
  return raw.replace(
    /^([^/]*\/\/)?([^@/]*):[^@/]*@/,
    (_m, scheme: string | undefined, user: string) => `${scheme ?? ''}${user}:***@`,
  );
}

function readProxy(read: Read, lower: ProxyVariable, upper: ProxyVariable, problems: string[]): ProxySetting | undefined {
  const variable = read(lower) !== undefined ? lower : upper;
  const raw = read(variable);
  if (raw === undefined) return undefined;
  // "proxy.corp:8080" is common and means http://, as in curl.
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL | undefined;
  try {
    url = new URL(withScheme);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    problems.push(
      `${variable} must be an http:// or https:// proxy URL such as http://proxy.example.com:8080, with credentials if the proxy wants them (http://user:password@proxy.example.com:8080); got "${masked(raw)}"`,
    );
    return undefined;
  }
  return { url, variable };
}

function parseNoProxy(raw: string | undefined): { noProxy: NoProxyEntry[]; noProxyAll: boolean } {
  const noProxy: NoProxyEntry[] = [];
  let noProxyAll = false;
  for (const item of (raw ?? '').split(/[,\s]+/)) {
    if (item === '') continue;
    if (item === '*') {
      noProxyAll = true;
      continue;
    }
    const withPort = /^(.+):(\d+)$/.exec(item);
    // "[::1]:8080" and "[::1]" keep their brackets, as URL.hostname does.
    const host = (withPort?.[1] ?? item).replace(/^\*?\./, '').toLowerCase();
    noProxy.push({ host, port: withPort ? Number(withPort[2]) : 0 });
  }
  return { noProxy, noProxyAll };
}

export function loadProxyConfig(read: Read, problems: string[]): ProxyConfig {
  return {
    https: readProxy(read, 'https_proxy', 'HTTPS_PROXY', problems),
    http: readProxy(read, 'http_proxy', 'HTTP_PROXY', problems),
    ...parseNoProxy(read('no_proxy') ?? read('NO_PROXY')),
  };
}

/** True when some request may go through a proxy: only then is the proxy client loaded. */
export function usesProxy(proxy: ProxyConfig): boolean {
  return !proxy.noProxyAll && (proxy.https !== undefined || proxy.http !== undefined);
}

/** The NO_PROXY entry that exempts this URL's host, if any. */
export function bypassFor(url: URL, proxy: ProxyConfig): string | undefined {
  if (proxy.noProxyAll) return '*';
  const host = url.hostname.toLowerCase();
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  const entry = proxy.noProxy.find((e) => (e.port === 0 || e.port === port) && (host === e.host || host.endsWith(`.${e.host}`)));
  return entry && (entry.port ? `${entry.host}:${entry.port}` : entry.host);
}

/** The proxy a request to `url` goes through, or undefined for a direct connection. */
export function proxyFor(url: URL, proxy: ProxyConfig): ProxySetting | undefined {
  const setting = url.protocol === 'https:' ? proxy.https : url.protocol === 'http:' ? proxy.http : undefined;
  if (setting === undefined || bypassFor(url, proxy) !== undefined) return undefined;
  return setting;
}

/** One line for `--check`: the proxy requests to `url` use, or why none. */
export function describeProxyFor(url: URL, proxy: ProxyConfig): string {
  const via = proxyFor(url, proxy);
  if (via) {
    const creds = via.url.username || via.url.password ? ', with credentials' : '';
    return `Proxy: ${proxyLabel(via.url)} (from ${via.variable}${creds}).`;
  }
  const bypass = bypassFor(url, proxy);
  const setting = url.protocol === 'https:' ? proxy.https : proxy.http;
  if (setting && bypass)
    return `Proxy: none (${url.hostname} matches "${bypass}" in NO_PROXY; ${setting.variable} is not used for it).`;
  const other = url.protocol === 'https:' ? proxy.http : proxy.https;
  if (other) {
    const wanted = url.protocol === 'https:' ? 'HTTPS_PROXY' : 'HTTP_PROXY';
    return `Proxy: none (${other.variable} is set, but it applies to ${url.protocol === 'https:' ? 'http' : 'https'}:// URLs only; set ${wanted} for ${url.protocol}// URLs like this one).`;
  }
  return 'Proxy: none (HTTPS_PROXY and HTTP_PROXY are not set).';
}

/**
 * FLORA's media hosts, and the rule for what preview_media may fetch. Output and asset URLs are
 * public, but a URL an agent passes could point anywhere (an internal address, a cloud metadata
 * endpoint): only https on FLORA's media hosts, plus the hosts the user lists in
 * FLORA_MEDIA_HOSTS, of which only a loopback one may be plain http (tests, local mirrors).
 */

/** FLORA's technique and action runtimes load media only from these; `flora.ai` and `*.flora.ai` count too. */
export const FLORA_MEDIA_HOSTS = ['media.flora.ai', 'ik.imagekit.io'] as const;

/** The default hosts as a user reads them (--check, README, messages). */
export const DEFAULT_MEDIA_HOSTS_TEXT = `${FLORA_MEDIA_HOSTS.join(', ')}, *.flora.ai`;

export function isFloraMediaHost(host: string): boolean {
  return (FLORA_MEDIA_HOSTS as readonly string[]).includes(host) || host === 'flora.ai' || host.endsWith('.flora.ai');
}

/** A loopback host name as URL.hostname gives it: localhost, 127.x.x.x, [::1]. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** Whether `host` is one of the listed hosts; `*.example.com` matches its subdomains. */
function listed(host: string, hosts: readonly string[]): boolean {
  return hosts.some((h) => (h.startsWith('*.') ? host.endsWith(h.slice(1)) : host === h));
}

/**
 * Why preview_media must not fetch `url`, or undefined when it may. Checked before every request,
 * each redirect hop included.
 */
export function mediaUrlProblem(url: URL, extraHosts: readonly string[]): string | undefined {
  const host = url.hostname;
  const allowed = `https on ${DEFAULT_MEDIA_HOSTS_TEXT}${extraHosts.length ? ` or ${extraHosts.join(', ')}` : ''}`;
  if (url.username || url.password) return `${url.protocol}//${url.host} carries credentials; only ${allowed} is fetched`;
  if (url.protocol === 'https:') {
    if (isFloraMediaHost(host) || listed(host, extraHosts)) return undefined;
    return `${host} is not one of FLORA's media hosts; only ${allowed} is fetched (the user can add hosts with FLORA_MEDIA_HOSTS)`;
  }
  if (url.protocol === 'http:') {
    if (isLoopbackHost(host) && listed(host, extraHosts)) return undefined;
    return `plain http (${url.host}) is fetched only from a loopback host listed in FLORA_MEDIA_HOSTS; only ${allowed} is fetched`;
  }
  return `${url.protocol} URLs are not fetched; only ${allowed} is`;
}

/**
 * FLORA_MEDIA_HOSTS: a comma list of host names (`*.example.com` for subdomains), lowercased. An
 * entry with a scheme, port, path or anything but a host is a problem naming the variable.
 */
export function parseMediaHosts(raw: string | undefined, problems: string[]): readonly string[] {
  if (raw === undefined) return [];
  const hosts = raw
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean)
    .map((h) => (h === '::1' ? '[::1]' : h));
  const label = '[a-z0-9](?:[a-z0-9-]*[a-z0-9])?';
  const valid = new RegExp(`^(?:\\*\\.)?${label}(?:\\.${label})*$`);
  const bad = hosts.filter((h) => h !== '[::1]' && !valid.test(h));
  if (bad.length > 0) {
    problems.push(
      `FLORA_MEDIA_HOSTS must be a comma list of host names such as media.example.com or *.example.com, without scheme, port or path (got "${bad.join('", "')}")`,
    );
    return [];
  }
  return hosts;
}

/**
 * fetch through the proxy the env names. Node's fetch ignores HTTPS_PROXY and friends; undici's
 * ProxyAgent, passed as fetch's `dispatcher`, does the proxying. It is imported on the first
 * proxied request only, from a file of its own (see proxy-agent.ts), so a server with no proxy set
 * never loads it (cold start).
 *
 * The global fetch is kept, with undici's agent as its dispatcher: undici's own fetch would not
 * send the global FormData of a multipart upload (it sends "[object FormData]").
 */
import { type ProxyConfig, proxyFor } from '../proxy.js';

type Dispatcher = NonNullable<RequestInit['dispatcher']>;

let undici: Promise<typeof import('./proxy-agent.js')> | undefined;
/** One agent per proxy for the process: HTTP mode builds a client per request, and connections are reused across them. */
const agents = new Map<string, Promise<Dispatcher>>();

function agentFor(proxy: URL): Promise<Dispatcher> {
  let agent = agents.get(proxy.href);
  if (agent === undefined) {
    undici ??= import('./proxy-agent.js');
    // proxyTunnel false: an http:// URL is forwarded as an absolute-URI request, as curl does;
    // https:// always goes through a CONNECT tunnel, so the proxy sees only encrypted bytes.
    agent = undici.then(({ ProxyAgent }) => new ProxyAgent({ uri: proxy.href, proxyTunnel: false }) as unknown as Dispatcher);
    agents.set(proxy.href, agent);
  }
  return agent;
}

/** `base`, sending each request through the proxy its URL calls for (none when NO_PROXY exempts it). */
export function proxiedFetch(proxy: ProxyConfig, base: typeof fetch): typeof fetch {
  return async (input, init) => {
    const url = input instanceof URL ? input : new URL(typeof input === 'string' ? input : input.url);
    const via = proxyFor(url, proxy);
    if (via === undefined) return base(input, init);
    return base(input, { ...init, dispatcher: await agentFor(via.url) });
  };
}

/**
 * undici's ProxyAgent, alone in a module of its own: the build makes it a separate file next to
 * the server's (dist/lib/proxy-agent.cjs), loaded on the first proxied request, so a server with
 * no proxy set neither loads nor parses undici's half a megabyte.
 */
export { ProxyAgent } from 'undici';

/**
 * A fake HTTP proxy on 127.0.0.1:0, as a corporate proxy behaves: an absolute-URI request
 * ("GET http://host/path") is forwarded, a CONNECT opens a tunnel, and when `credentials` are set
 * either one without the matching Proxy-Authorization is answered 407 (and with `failWith`, every
 * one is answered that status, as a proxy that cannot reach the host answers 502). It records every request
 * it receives (method, target, headers): for a tunnel that is all a proxy can read.
 */
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

export interface ProxiedRequest {
  method: string;
  /** The absolute URI of a forwarded request, or host:port for CONNECT. */
  target: string;
  headers: IncomingHttpHeaders;
  /** The answer the proxy itself gave: 407, or undefined when it forwarded or tunnelled. */
  refused?: number;
}

const HOP_BY_HOP = ['proxy-authorization', 'proxy-connection', 'connection', 'keep-alive'];

export class FakeProxy {
  readonly requests: ProxiedRequest[] = [];
  /** "user:password" the proxy demands; undefined: it forwards anything. */
  credentials: string | undefined;
  /** A status (e.g. 502: it cannot reach the host) the proxy answers every request with instead of forwarding. */
  failWith: number | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {}

  /** The proxy's URL, with `userinfo` ("user:pass") when given, as a user puts it in HTTPS_PROXY. */
  url(userinfo?: string): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://${userinfo ? `${userinfo}@` : ''}127.0.0.1:${port}`;
  }

  reset(): void {
    this.requests.length = 0;
    this.credentials = undefined;
    this.failWith = undefined;
  }

  /** What the proxy answers itself (407 without the right credentials, or failWith); undefined: it forwards. */
  private refusal(headers: IncomingHttpHeaders): number | undefined {
    const expected = this.credentials && `Basic ${Buffer.from(this.credentials).toString('base64')}`;
    if (expected && headers['proxy-authorization'] !== expected) return 407;
    return this.failWith;
  }

  static async start(): Promise<FakeProxy> {
    const server = createServer();
    const proxy = new FakeProxy(server);
    server.on('connection', (socket) => {
      proxy.sockets.add(socket);
      socket.on('close', () => proxy.sockets.delete(socket));
    });
    server.on('request', (req, res) => {
      const seen: ProxiedRequest = { method: req.method ?? '', target: req.url ?? '', headers: req.headers };
      proxy.requests.push(seen);
      seen.refused = proxy.refusal(req.headers);
      if (seen.refused !== undefined) {
        req.resume();
        res.writeHead(seen.refused, { 'proxy-authenticate': 'Basic realm="corp"', 'content-type': 'text/html' });
        res.end('<html><body>Refused by the proxy</body></html>');
        return;
      }
      const target = new URL(req.url ?? '');
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !HOP_BY_HOP.includes(k)));
      const upstream = request(
        { host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    server.on('connect', (req, client: Socket, head: Buffer) => {
      const seen: ProxiedRequest = { method: 'CONNECT', target: req.url ?? '', headers: req.headers };
      proxy.requests.push(seen);
      seen.refused = proxy.refusal(req.headers);
      if (seen.refused !== undefined) {
        client.end(`HTTP/1.1 ${seen.refused} Refused\r\nProxy-Authenticate: Basic realm="corp"\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

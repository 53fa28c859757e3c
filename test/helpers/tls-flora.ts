/**
 * FLORA over https on 127.0.0.1, with the self-signed certificate in helpers/tls (for 127.0.0.1,
 * valid to 2126), which a child process trusts through NODE_EXTRA_CA_CERTS=certPath, as it would
 * a company CA. It answers every request with one workspace, ws_tls "Over TLS", and records what
 * reached it.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const tls = (name: string) => fileURLToPath(new URL(`./tls/${name}`, import.meta.url));

export interface TlsFlora {
  /** https://127.0.0.1:PORT/api/v1 */
  baseUrl: string;
  port: number;
  /** The certificate to trust: the value for NODE_EXTRA_CA_CERTS. */
  certPath: string;
  /** Each request that reached it: its path and Authorization header. */
  seen: Array<{ path: string | undefined; authorization: string | undefined }>;
  close(): void;
}

/** Starts it; `gzip` sends the answer compressed (Content-Encoding: gzip). */
export async function startTlsFlora(opts: { gzip?: boolean } = {}): Promise<TlsFlora> {
  const seen: TlsFlora['seen'] = [];
  const body = JSON.stringify({ workspaces: [{ workspace_id: 'ws_tls', name: 'Over TLS', role: 'owner' }] });
  const server = createServer({ key: readFileSync(tls('key.pem')), cert: readFileSync(tls('cert.pem')) }, (req, res) => {
    seen.push({ path: req.url, authorization: req.headers.authorization });
    res.writeHead(200, { 'content-type': 'application/json', ...(opts.gzip ? { 'content-encoding': 'gzip' } : {}) });
    res.end(opts.gzip ? gzipSync(body) : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `https://127.0.0.1:${port}/api/v1`, port, certPath: tls('cert.pem'), seen, close: () => server.close() };
}

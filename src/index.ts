/**
 * The server's entry (bundled as dist/lib/server.cjs, which the bin entry launch.ts runs) and the
 * only server module that touches `process`: argv, env, signals, stdio.
 * In serve mode stdout carries JSON-RPC only, so the guard is imported first (imports run in
 * order); the other modes (--help, --version, --check) print to stdout and exit.
 */
import './stdout-guard.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { parseCommand, runCheck, USAGE, type HttpServeOptions } from './cli.js';
import { loadConfig } from './config.js';
import { createLogger, makeRedactor } from './log.js';
import { describeProxyFor } from './proxy.js';
import { createServer } from './server.js';
import { settledWithin } from './sleep.js';
import { VERSION } from './version.js';

/** How long in-flight calls may run on after stdin closes or a signal arrives. */
const DRAIN_MS = 10_000;

const command = parseCommand(process.argv.slice(2));
// A flag wins over its variable: --toolsets over FLORA_TOOLSETS.
const flags = 'toolsets' in command && command.toolsets !== undefined ? { FLORA_TOOLSETS: command.toolsets } : {};
const config = loadConfig({ ...process.env, ...flags });
const redact = makeRedactor(config.apiKey);

// A function, not top-level await: the bundle is CommonJS, so V8 can cache its compiled code.
main().catch((err: unknown) => {
  process.stderr.write(`${redact(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`);
  process.exitCode = 1;
});

async function main(): Promise<void> {
  switch (command.kind) {
    case 'help':
      process.stdout.write(USAGE);
      break;
    case 'version':
      process.stdout.write(`${VERSION}\n`);
      break;
    case 'usage-error':
      process.stderr.write(`${command.message}\n\n${USAGE}`);
      process.exitCode = 2;
      break;
    case 'check': {
      const result = await runCheck(config);
      process.stdout.write(redact(result.text));
      process.exitCode = result.ok ? 0 : 1;
      break;
    }
    case 'serve':
      await serveStdio();
      break;
    case 'serve-http':
      await serveHttp(command);
      break;
  }
}

async function serveHttp(opts: HttpServeOptions): Promise<void> {
  const log = createLogger(config.logLevel, redact);
  if (config.problems.length > 0) {
    // Unlike stdio, nobody would see per-call errors here first: refuse to start.
    process.stderr.write(`${redact(config.problems.join('\n'))}\n`);
    process.exitCode = 1;
    return;
  }
  if (opts.useEnvKey && config.apiKey === undefined) {
    process.stderr.write('--use-env-key needs FLORA_API_KEY in the environment.\n');
    process.exitCode = 1;
    return;
  }
  // Loaded only in this mode: the HTTP transport's modules would cost stdio's cold start ~20 ms.
  const { startHttpServer } = await import('./http.js');
  const http = await startHttpServer({ ...opts, config, log });
  process.stderr.write(`flora-generation-mcp ${VERSION} serving Streamable HTTP at ${http.url}\n`);
  log.info(describeProxyFor(config.baseUrl, config.proxy));
  if (opts.useEnvKey) log.warn("--use-env-key: requests without a key spend the credits of this server's FLORA_API_KEY");
  let closing = false;
  const shutdown = async (reason: string) => {
    if (closing) return;
    closing = true;
    log.info(`shutting down (${reason}); draining`);
    await http.close(DRAIN_MS);
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('uncaughtException', (err) => log.error('uncaught exception', err));
  process.on('unhandledRejection', (err) => log.error('unhandled rejection', err));
}

async function serveStdio(): Promise<void> {
  const log = createLogger(config.logLevel, redact);
  for (const p of config.problems) log.error(`configuration: ${p}`);
  if (config.apiKey === undefined)
    log.warn('FLORA_API_KEY is not set: tools are listed, but every call will answer configuration_error.');

  const { server, idle, inFlight } = createServer({ config, logger: log });
  const transport = new StdioServerTransport();
  const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

  let closing = false;
  async function shutdown(reason: string): Promise<void> {
    if (closing) return;
    closing = true;
    log.info(`shutting down (${reason}); ${inFlight()} call(s) in flight`);
    // A request read in the same chunk as the EOF is dispatched on a later tick: let it register.
    await nextTick();
    await settledWithin(idle(), DRAIN_MS);
    // The answer is written after the handler settles: one more turn so it reaches stdout.
    await nextTick();
    await server.close().catch(() => {});
    process.exit(0);
  }

  process.stdin.on('end', () => void shutdown('stdin closed'));
  process.stdin.on('close', () => void shutdown('stdin closed'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // EPIPE: the client went away; nobody is left to answer.
  process.stdout.on('error', () => void shutdown('stdout closed'));
  // A bug must cost one call, never the server.
  process.on('uncaughtException', (err) => log.error('uncaught exception', err));
  process.on('unhandledRejection', (err) => log.error('unhandled rejection', err));

  await server.connect(transport);
  log.info(`flora-generation-mcp ${VERSION} ready on stdio (FLORA at ${config.baseUrl.origin})`);
  log.info(describeProxyFor(config.baseUrl, config.proxy));
}

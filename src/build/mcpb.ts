/**
 * Build-time only (not in the published bundle): the .mcpb bundle for one-click install in Claude
 * Desktop. Writes dist/mcpb/manifest.json (tools listed from the registry, so it cannot drift),
 * dist/mcpb/server/index.js (the bin entry, CommonJS, with a package.json saying so) and
 * server/lib/ (the server it runs, with the files it loads on first use: see rolldown.config.mjs);
 * `npm run bundle` then packs it with `mcpb pack`.
 */
import { copyFileSync, cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_BASE_URL, TOOLSET_NAMES } from '../config.js';
import { DEFAULT_MEDIA_HOSTS_TEXT } from '../flora/media-hosts.js';
import { buildTools } from '../tools/index.js';
import type { ToolDefinition } from '../tools/tool.js';
import { SERVER_NAME, VERSION } from '../version.js';

export function buildManifest(tools: readonly ToolDefinition[] = buildTools()): Record<string, unknown> {
  return {
    manifest_version: '0.3',
    name: SERVER_NAME,
    display_name: 'FLORA generations',
    version: VERSION,
    description: 'Generate images, video, audio and text with FLORA: find models, start runs, wait for results.',
    long_description:
      "Lets Claude drive FLORA's generation API: list workspaces, projects and models, start a generation (billed to your workspace), and wait for its outputs. Every start carries an Idempotency-Key, so a retry never bills twice; your API key is sent only to FLORA.",
    author: { name: 'flora-generation-mcp contributors' },
    license: 'MIT',
    keywords: ['flora', 'image generation', 'video generation', 'generative ai'],
    server: {
      type: 'node',
      entry_point: 'server/index.js',
      mcp_config: {
        command: 'node',
        args: ['${__dirname}/server/index.js'],
        env: {
          FLORA_API_KEY: '${user_config.flora_api_key}',
          FLORA_WORKSPACE_ID: '${user_config.workspace_id}',
          FLORA_PROJECT_ID: '${user_config.project_id}',
          FLORA_BASE_URL: '${user_config.base_url}',
          FLORA_TOOLSETS: '${user_config.toolsets}',
          HTTPS_PROXY: '${user_config.https_proxy}',
          NO_PROXY: '${user_config.no_proxy}',
          FLORA_MAX_RUN_USD: '${user_config.max_run_usd}',
          FLORA_SPEND_LIMIT_USD: '${user_config.spend_limit_usd}',
          FLORA_MEDIA_HOSTS: '${user_config.media_hosts}',
        },
      },
    },
    tools: tools.map((t) => ({ name: t.name, description: t.description })),
    tools_generated: false,
    compatibility: { platforms: ['darwin', 'win32', 'linux'], runtimes: { node: '>=20.18.1' } },
    user_config: {
      flora_api_key: {
        type: 'string',
        title: 'FLORA API key',
        description: 'Your FLORA API key (sk_live_...), from FLORA -> Settings -> API Keys. Sent only to FLORA.',
        sensitive: true,
        required: true,
      },
      workspace_id: {
        type: 'string',
        title: 'Default workspace ID',
        description: 'Optional ws_... ID billed when a request names no workspace.',
        required: false,
        default: '',
      },
      project_id: {
        type: 'string',
        title: 'Default project ID',
        description: 'Optional prj_... ID that receives results when a request names no project.',
        required: false,
        default: '',
      },
      toolsets: {
        type: 'string',
        title: 'Toolsets',
        description: `Optional comma list of the toolsets to offer: ${TOOLSET_NAMES.join(', ')}. Empty offers all.`,
        required: false,
        default: '',
      },
      https_proxy: {
        type: 'string',
        title: 'HTTPS proxy',
        description:
          'Only if your network reaches the internet through a proxy: its URL, with credentials if it wants them (http://user:password@proxy.example.com:8080). Empty: no proxy.',
        sensitive: true,
        required: false,
        default: '',
      },
      no_proxy: {
        type: 'string',
        title: 'Hosts that bypass the proxy',
        description:
          'Optional comma list of hosts and domains reached directly (NO_PROXY), e.g. localhost,.internal.example.com.',
        required: false,
        default: '',
      },
      // Optional numbers without a default: a host that leaves one empty passes the placeholder
      // itself, which the server reads as unset (config.ts).
      max_run_usd: {
        type: 'number',
        title: 'Per-run limit (US$)',
        description:
          'Optional. A run estimated above this, or of unknown cost, starts only after you confirm it. Empty: no limit.',
        required: false,
        min: 0,
      },
      spend_limit_usd: {
        type: 'number',
        title: 'Total spend limit (US$)',
        description: 'Optional. Runs this server starts stop once their estimated spend would pass this. Empty: no limit.',
        required: false,
        min: 0,
      },
      media_hosts: {
        type: 'string',
        title: 'Extra media hosts',
        description: `Optional comma list of hosts preview_media may fetch images from besides FLORA's own (${DEFAULT_MEDIA_HOSTS_TEXT}). Leave empty unless you mirror FLORA's media.`,
        required: false,
        default: '',
      },
      base_url: {
        type: 'string',
        title: 'FLORA API base URL',
        description: 'Leave as is unless FLORA tells you otherwise.',
        required: false,
        default: DEFAULT_BASE_URL,
      },
    },
  };
}

/** Writes dist/mcpb (or `dir`), ready for `mcpb pack`, from the build in `root`'s dist/. */
export function writeBundleDir(root: URL, dir = new URL('dist/mcpb/', root)): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('manifest.json', dir), `${JSON.stringify(buildManifest(), null, 2)}\n`);
  // A fresh server/: the bin entry, the server and the parts it loads on first use, never a compile
  // cache (server/.v8-cache) a run of it on this machine made.
  rmSync(new URL('server/', dir), { recursive: true, force: true });
  mkdirSync(new URL('server/', dir), { recursive: true });
  copyFileSync(new URL('dist/flora-generation-mcp.cjs', root), new URL('server/index.js', dir));
  // index.js is CommonJS whatever package.json a folder above the unpacked extension may hold.
  writeFileSync(new URL('server/package.json', dir), `${JSON.stringify({ type: 'commonjs' })}\n`);
  cpSync(new URL('dist/lib/', root), new URL('server/lib/', dir), { recursive: true });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeBundleDir(new URL('../../../', import.meta.url));
}

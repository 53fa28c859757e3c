import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { validateManifest } from '@anthropic-ai/mcpb/node';
import { describe, expect, it } from 'vitest';
import { buildManifest, writeBundleDir } from '../src/build/mcpb.js';
import { loadConfig, TOOLSET_NAMES } from '../src/config.js';
import { buildTools } from '../src/tools/index.js';
import { VERSION } from '../src/version.js';

const manifest = buildManifest() as {
  version: string;
  server: { entry_point: string; mcp_config: { command: string; args: string[]; env: Record<string, string> } };
  tools: Array<{ name: string; description: string }>;
  user_config: Record<string, { type: string; sensitive?: boolean; required?: boolean; default?: unknown }>;
};

describe('.mcpb manifest', () => {
  it('passes @anthropic-ai/mcpb validation', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpb-'));
    const file = join(dir, 'manifest.json');
    writeFileSync(file, JSON.stringify(manifest));
    expect(validateManifest(file)).toBe(true);
  });

  it('asks for the API key as a required, sensitive setting and passes it only as FLORA_API_KEY', () => {
    expect(manifest.user_config.flora_api_key).toMatchObject({ type: 'string', sensitive: true, required: true });
    expect(manifest.server.mcp_config.env.FLORA_API_KEY).toBe('${user_config.flora_api_key}');
    expect(JSON.stringify(manifest.server.mcp_config.args)).not.toContain('user_config');
  });

  it('offers the workspace and project defaults as optional settings', () => {
    expect(manifest.user_config.workspace_id).toMatchObject({ required: false });
    expect(manifest.user_config.project_id).toMatchObject({ required: false });
    expect(manifest.server.mcp_config.env).toMatchObject({
      FLORA_WORKSPACE_ID: '${user_config.workspace_id}',
      FLORA_PROJECT_ID: '${user_config.project_id}',
    });
  });

  it('offers the toolsets as an optional setting whose empty default offers all of them', () => {
    expect(manifest.user_config.toolsets).toMatchObject({ type: 'string', required: false, default: '' });
    expect(manifest.server.mcp_config.env.FLORA_TOOLSETS).toBe('${user_config.toolsets}');
    // What the client passes for the empty default is blank, which the server reads as unset.
    expect(loadConfig({ FLORA_TOOLSETS: '' }).toolsets).toEqual(TOOLSET_NAMES);
  });

  it('offers both spend limits as optional numbers of 0 or more; left empty, the placeholder the host passes means no limit', () => {
    for (const [setting, variable] of [
      ['max_run_usd', 'FLORA_MAX_RUN_USD'],
      ['spend_limit_usd', 'FLORA_SPEND_LIMIT_USD'],
    ] as const) {
      expect(manifest.user_config[setting]).toMatchObject({ type: 'number', required: false, min: 0 });
      expect(manifest.user_config[setting]).not.toHaveProperty('default');
      expect(manifest.server.mcp_config.env[variable]).toBe(`\${user_config.${setting}}`);
    }
    const unfilled = loadConfig({
      FLORA_MAX_RUN_USD: manifest.server.mcp_config.env.FLORA_MAX_RUN_USD,
      FLORA_SPEND_LIMIT_USD: manifest.server.mcp_config.env.FLORA_SPEND_LIMIT_USD,
    });
    expect(unfilled).toMatchObject({ maxRunUsd: undefined, spendLimitUsd: undefined, problems: [] });
    expect(loadConfig({ FLORA_MAX_RUN_USD: '0.5' }).maxRunUsd).toBe(0.5);
  });

  it('offers the extra media hosts of preview_media as an optional setting, empty by default', () => {
    expect(manifest.user_config.media_hosts).toMatchObject({ type: 'string', required: false, default: '' });
    expect(manifest.server.mcp_config.env.FLORA_MEDIA_HOSTS).toBe('${user_config.media_hosts}');
    expect(loadConfig({ FLORA_MEDIA_HOSTS: '' }).mediaHosts).toEqual([]);
  });

  it("lists exactly the registry's tools, with their descriptions, and runs the bundled server", () => {
    expect(manifest.tools).toEqual(buildTools().map((t) => ({ name: t.name, description: t.description })));
    expect(manifest.version).toBe(VERSION);
    expect(manifest.server.entry_point).toBe('server/index.js');
    expect(manifest.server.mcp_config).toMatchObject({ command: 'node', args: ['${__dirname}/server/index.js'] });
  });

  it('bundles the bin as server/index.js with the server in server/lib/, and it runs whatever package.json is above it', () => {
    // A folder of its own under the OS's temp dir, as Claude Desktop unpacks an extension; its
    // server/package.json keeps index.js CommonJS.
    const dir = pathToFileURL(`${mkdtempSync(join(tmpdir(), 'mcpb-dir-'))}/`);
    // Even under a folder whose package.json says "type": "module".
    writeFileSync(new URL('package.json', dir), JSON.stringify({ type: 'module' }));
    writeBundleDir(new URL('../', import.meta.url), dir);
    const server = new URL('server/', dir);
    expect(readdirSync(server).sort()).toEqual(['index.js', 'lib', 'package.json']);
    expect(readdirSync(new URL('lib/', server))).toContain('server.cjs');
    const out = execFileSync(process.execPath, [new URL('index.js', server).pathname, '--version'], {
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
    });
    expect(out).toBe(`${VERSION}\n`);
  });
});

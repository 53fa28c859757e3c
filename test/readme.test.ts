import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { withToolReference } from './helpers/tool-reference.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies: Record<string, string>;
};
const ci = readFileSync(new URL('../.ci/run', import.meta.url), 'utf8');

describe('README', () => {
  it('has a tool reference generated from the registry (run `npm run docs` when this fails)', () => {
    expect(readme).toBe(withToolReference(readme));
  });

  it('explains every dependency', () => {
    const deps = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies)];
    const section = readme.slice(readme.indexOf('## Dependencies'));
    for (const dep of deps) expect(section, dep).toContain(`\`${dep}\``);
  });

  it('names the test command that CI runs', () => {
    expect(ci).toContain('npm ci');
    expect(ci).toContain('npm test');
    expect(readme).toContain('npm test');
  });
});

describe('client setup', () => {
  const bin = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { bin: Record<string, string> })
    .bin;
  const example = JSON.parse(readFileSync(new URL('../mcp.json.example', import.meta.url), 'utf8')) as {
    mcpServers: Record<string, { command: string; args: string[]; env: Record<string, string> }>;
  };

  it('points mcp.json.example and the README at the file the package really runs', () => {
    const [name, path] = Object.entries(bin)[0]!;
    expect(name).toBe('flora-generation-mcp');
    const server = example.mcpServers.flora!;
    expect(server.command).toBe('node');
    expect(server.args[0]!.endsWith(path!)).toBe(true);
    expect(Object.keys(server.env)).toEqual(['FLORA_API_KEY']);
    expect(readme).toContain(`node ${path}`);
    expect(readme).toContain(`-- ${name}`);
  });

  it('documents the sections users look for', () => {
    for (const heading of [
      '**Claude Desktop.**',
      '**Claude Code**',
      '**Cursor**',
      '**VS Code**',
      '**Windsurf**',
      '**MCP Inspector**',
    ]) {
      expect(readme).toContain(heading);
    }
    expect(readme).toContain('"password": true');
    expect(readme).toContain('npm run bundle');
  });
});

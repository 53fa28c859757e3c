/** Project-level guarantees that no single behaviour test covers. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../src/version.js';

const root = new URL('..', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('project hygiene', () => {
  it('reports the version in package.json', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });

  it('never writes to stdout from src (stdout is the JSON-RPC channel)', () => {
    const offenders = sources(join(root, 'src')).filter((file) => {
      const text = readFileSync(file, 'utf8');
      // index.ts alone prints, for --help, --version and --check, which exit without serving.
      const stdoutWrite = file.endsWith(join('src', 'index.ts')) ? false : /process\.stdout\.write\(/.test(text);
      return /console\.(log|info|debug)\(/.test(text) || stdoutWrite;
    });
    expect(offenders).toEqual([]);
  });

  it('keeps the MCP SDK out of the FLORA side, the config and the errors (they know nothing of MCP)', () => {
    const files = [...sources(join(root, 'src', 'flora')), join(root, 'src', 'config.ts'), join(root, 'src', 'errors.ts')];
    expect(files.length).toBeGreaterThan(8);
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      expect(text, file).not.toContain('@modelcontextprotocol');
      // Nor through the tools, which do import it.
      expect(text, file).not.toMatch(/from '\.\.\/tools\//);
    }
  });
});

/** The built bundle in HTTP mode, spawned as an operator starts it (npm test builds it first). */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { FAKE_KEY, type FakeFlora } from '../helpers/fake-flora.js';
import { TOOL_NAMES, useFakeFlora } from '../helpers/harness.js';
import { spawnHttpBundle } from '../helpers/measure.js';

let fake: FakeFlora;
useFakeFlora((f) => (fake = f));

describe('the bundle in HTTP mode', () => {
  it('starts with --transport http, serves /mcp, and exits cleanly on SIGTERM', async () => {
    const { child, url } = await spawnHttpBundle({ FLORA_BASE_URL: fake.baseUrl });
    const client = new Client({ name: 'http-bin', version: '0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${FAKE_KEY}` } } }),
    );
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(TOOL_NAMES);
    await client.close();
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

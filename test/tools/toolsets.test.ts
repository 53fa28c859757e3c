/**
 * FLORA_TOOLSETS through a real SDK client: which tools are listed and callable, what an agent
 * hears when it asks for a tool of a toolset the user did not enable, and an unknown toolset
 * name answered as configuration_error without anything reaching FLORA.
 */
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import type { FakeFlora } from '../helpers/fake-flora.js';
import {
  BATCH_TOOL_NAMES,
  failure,
  GENERATE_TOOL_NAMES,
  MEDIA_TOOL_NAMES,
  success,
  TECHNIQUES_TOOL_NAMES,
  TOOL_NAMES,
  useConnections,
} from '../helpers/harness.js';

let fake: FakeFlora;
const { open } = useConnections((f) => (fake = f));

async function listed(env: Record<string, string>): Promise<string[]> {
  const c = await open({ env });
  return (await c.client.listTools()).tools.map((t) => t.name);
}

describe('FLORA_TOOLSETS', () => {
  it('generate lists exactly the five generation tools, and they work', async () => {
    expect(await listed({ FLORA_TOOLSETS: 'generate' })).toEqual(GENERATE_TOOL_NAMES);
    const c = await open();
    expect(success(await c.call('list_workspaces')).workspaces).toHaveLength(2);
  });

  it('media lists upload_media and preview_media', async () => {
    expect(await listed({ FLORA_TOOLSETS: 'media' })).toEqual(MEDIA_TOOL_NAMES);
  });

  it('techniques lists exactly list_techniques and run_technique, and they work', async () => {
    expect(await listed({ FLORA_TOOLSETS: 'techniques' })).toEqual(TECHNIQUES_TOOL_NAMES);
    const c = await open({ env: { FLORA_TOOLSETS: 'techniques' } });
    expect(success(await c.call('list_techniques', { limit: 1 })).techniques).toHaveLength(1);
    expect(fake.requests.map((r) => r.path)).toEqual(['/techniques']);
  });

  it('batch lists exactly start_generation_batch and poll_runs, and they work', async () => {
    expect(await listed({ FLORA_TOOLSETS: 'batch' })).toEqual(BATCH_TOOL_NAMES);
    const c = await open({ env: { FLORA_TOOLSETS: 'batch' } });
    const out = success(await c.call('poll_runs', { run_ids: ['run_nope'] }));
    expect(out.runs).toMatchObject([{ run_id: 'run_nope', error: { code: 'not_found' } }]);
    expect(fake.requests.map((r) => r.path)).toEqual(['/runs/run_nope']);
  });

  it('unset lists every tool of every toolset', async () => {
    expect(await listed({})).toEqual(TOOL_NAMES);
    expect(TOOL_NAMES).toEqual([...GENERATE_TOOL_NAMES, ...MEDIA_TOOL_NAMES, ...TECHNIQUES_TOOL_NAMES, ...BATCH_TOOL_NAMES]);
  });

  it('a tool of a toolset the user did not enable is unknown, and the error says which toolset has it', async () => {
    const c = await open({ env: { FLORA_TOOLSETS: 'media,batch' } });
    expect((await c.client.listTools()).tools.map((t) => t.name)).toEqual([...MEDIA_TOOL_NAMES, ...BATCH_TOOL_NAMES]);
    const call = c.call('poll_run', { run_id: 'run_1' });
    await expect(call).rejects.toMatchObject({ code: ErrorCode.InvalidParams });
    await expect(call).rejects.toThrow(
      'Tool "poll_run" is in the toolset "generate", which this server does not enable (enabled: media, batch; the user sets FLORA_TOOLSETS or --toolsets). Available tools: upload_media, preview_media, start_generation_batch, poll_runs.',
    );
    expect(fake.requests).toHaveLength(0);
  });

  it('an unknown toolset name: tools stay listed, every call answers configuration_error naming the valid names', async () => {
    const c = await open({ env: { FLORA_TOOLSETS: 'generate,vidoe' } });
    expect((await c.client.listTools()).tools.map((t) => t.name)).toEqual(TOOL_NAMES);
    const error = failure(await c.call('list_workspaces'));
    expect(error.code).toBe('configuration_error');
    expect(error.message).toContain(
      'FLORA_TOOLSETS must be a comma list of generate, media, techniques, batch (got unknown "vidoe")',
    );
    expect(fake.requests).toHaveLength(0);
  });
});

/**
 * What every tool shares, through the real SDK client: configuration problems answered as
 * configuration_error without sending anything, unknown tools, the API key redacted from
 * whatever FLORA echoes, FLORA answers we cannot read, and a crashing handler turned into
 * internal_error without taking the server down.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';
import { INSTRUCTIONS } from '../../src/server.js';
import { listModels } from '../../src/tools/discovery/list-models.js';
import { defineTool, type ToolDefinition } from '../../src/tools/tool.js';
import { compactModel, FAKE_KEY, type FakeFlora, faults, floraError, MODELS } from '../helpers/fake-flora.js';
import { failure, success, textOf, TOOL_NAMES, useConnections, VALID_CALLS, VALID_START } from '../helpers/harness.js';

let fake: FakeFlora;

const { open } = useConnections((f) => (fake = f));

/** What list_models answers by default: each model compact, param names only. */
const COMPACT_MODELS = MODELS.map(compactModel);

describe('configuration', () => {
  it.each([
    ['empty', ''],
    ['blank', '   '],
    ['unset', undefined],
  ])('with FLORA_API_KEY %s the server still lists its tools and every call says how to set the key', async (_label, key) => {
    const c = await open({ env: { FLORA_API_KEY: key } });

    const { tools } = await c.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(TOOL_NAMES);

    for (const [name, args] of VALID_CALLS) {
      const error = failure(await c.call(name, args));
      expect(error.code, name).toBe('configuration_error');
      expect(error.retryable).toBe(false);
      expect(error.message).toContain('FLORA_API_KEY');
      expect(error.message).toContain('"env"');
    }
    expect(fake.requests).toHaveLength(0);
  });

  it('reports configuration_error before looking at the arguments', async () => {
    const c = await open({ env: { FLORA_API_KEY: '' } });
    const error = failure(await c.call('start_generation_run', { type: 't2i' }));
    expect(error.code).toBe('configuration_error');
    expect(fake.requests).toHaveLength(0);
  });

  it('with FLORA_TIMEOUT_MS=abc every call returns configuration_error naming FLORA_TIMEOUT_MS', async () => {
    const c = await open({ env: { FLORA_TIMEOUT_MS: 'abc' } });
    expect((await c.client.listTools()).tools).toHaveLength(TOOL_NAMES.length);

    for (const [name, args] of VALID_CALLS) {
      const error = failure(await c.call(name, args));
      expect(error.code, name).toBe('configuration_error');
      expect(error.message).toContain('FLORA_TIMEOUT_MS');
      expect(error.message).toContain('"abc"');
      expect(error.message).toContain('"env"');
    }
    expect(fake.requests).toHaveLength(0);
  });

  it('names every invalid variable at once', async () => {
    const c = await open({ env: { FLORA_TIMEOUT_MS: 'abc', FLORA_MAX_RETRIES: '9', FLORA_LOG: 'loud' } });
    const error = failure(await c.call('list_models', {}));
    expect(error.code).toBe('configuration_error');
    expect(error.message).toContain('FLORA_TIMEOUT_MS');
    expect(error.message).toContain('FLORA_MAX_RETRIES');
    expect(error.message).toContain('FLORA_LOG');
    expect(fake.requests).toHaveLength(0);
  });

  it.each([
    ['FLORA_WORKSPACE_ID', 'prj_mugs'],
    ['FLORA_PROJECT_ID', 'ws_studio'],
  ])('with %s of the wrong kind every call returns configuration_error naming it', async (name, value) => {
    const c = await open({ env: { [name]: value } });
    expect((await c.client.listTools()).tools.map((t) => t.name)).toEqual(TOOL_NAMES);

    for (const [tool, args] of VALID_CALLS) {
      const error = failure(await c.call(tool, args));
      expect(error.code, tool).toBe('configuration_error');
      expect(error.retryable).toBe(false);
      expect(error.message).toContain(name);
      expect(error.message).toContain(`"${value}"`);
      expect(error.message).toContain('"env"');
    }
    expect(fake.requests).toHaveLength(0);
  });

  it('refuses a plain-http FLORA_BASE_URL on another host instead of sending the key in clear text', async () => {
    const c = await open({ env: { FLORA_BASE_URL: 'http://flora.example.com/api/v1' } });
    const error = failure(await c.call('list_models', {}));
    expect(error.code).toBe('configuration_error');
    expect(error.message).toContain('FLORA_BASE_URL');
    expect(error.message).toContain('https');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('server instructions', () => {
  it('are sent at initialize: one numbered step per line, discovery to waiting, naming the tools to use', async () => {
    const c = await open();
    const instructions = c.client.getInstructions();

    expect(instructions).toBe(INSTRUCTIONS);
    const lines = instructions!.split('\n');
    expect(lines.length).toBeGreaterThan(4);
    const steps = lines.filter((l) => /^\d+\. /.test(l));
    expect(steps.map((l) => l.slice(0, 3))).toEqual(['1. ', '2. ', '3. ', '4. ', '5. ']);
    expect(steps[0]).toContain('list_workspaces');
    expect(steps[0]).toContain('list_projects');
    expect(steps[1]).toContain('list_models');
    expect(steps[2]).toContain('start_generation_run');
    expect(steps[3]).toContain('poll_run');
    // Look at the result before spending more.
    expect(steps[4]).toContain('preview_media');
    expect(steps[4]).toContain('before starting variations');
    // Techniques: discover, inspect inputs, upload media, run, wait, in that order.
    const techniques = lines.find((l) => l.startsWith('Techniques'));
    const order = ['list_techniques', 'inputs', 'upload_media', 'run_technique', 'technique_id to poll_run'];
    const at = order.map((word) => techniques?.indexOf(word) ?? -1);
    expect(
      at.every((i) => i >= 0),
      techniques,
    ).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    // The spend guard's word is the user's: the agent is told to pass it on, not to get round it.
    const cost = lines.find((l) => l.startsWith('Cost'));
    expect(cost).toContain('estimate_only');
    expect(cost).toContain('budget_exceeded or confirmation_declined');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('unknown tools', () => {
  it('rejects an unknown tool name with a JSON-RPC error naming it and the available tools', async () => {
    const c = await open();
    const call = c.call('generate_image', { prompt: 'x' });
    await expect(call).rejects.toBeInstanceOf(McpError);
    await expect(call).rejects.toMatchObject({ code: ErrorCode.InvalidParams });
    await expect(call).rejects.toThrow('Unknown tool "generate_image"');
    await expect(call).rejects.toThrow(`Available tools: ${TOOL_NAMES.join(', ')}.`);
    // One SDK prefix, not two: the wire message is our sentence alone.
    await expect(call).rejects.toThrow(/^MCP error -32602: Unknown tool/);
    expect(fake.requests).toHaveLength(0);

    // The server keeps answering.
    expect(success(await c.call('list_models', {}))).toEqual({ models: COMPACT_MODELS });
  });
});

describe('the API key never reaches the agent', () => {
  it("is redacted from FLORA's error message and fields", async () => {
    fake.route('POST /generate', () =>
      floraError(400, 'input_validation_error', `Key ${FAKE_KEY} cannot use workspace ws_studio`, [
        { field: 'workspace_id', message: `not visible to Bearer ${FAKE_KEY}` },
      ]),
    );
    const c = await open();
    const result = await c.call('start_generation_run', { ...VALID_START });
    const error = failure(result);

    expect(JSON.stringify(result)).not.toContain(FAKE_KEY);
    expect(error.code).toBe('input_validation_error');
    expect(error.message).toContain('[redacted]');
    expect(error.message).toContain('cannot use workspace ws_studio');
    expect(error.fields?.[0]?.field).toBe('workspace_id');
    expect(error.fields?.[0]?.message).not.toContain(FAKE_KEY);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
  });

  it('is redacted from structuredContent and text of a successful answer', async () => {
    fake.route('POST /generate', (_req, _res, ctx) => {
      const reply = ctx.defaultReply();
      return {
        ...reply,
        body: { ...(reply.body as object), debug: { echoed_key: FAKE_KEY, header: `Authorization: Bearer ${FAKE_KEY}` } },
      };
    });
    fake.route('GET /runs/:id', (_req, _res, ctx) => {
      const reply = ctx.defaultReply();
      return { ...reply, body: { ...(reply.body as object), error_message: `called with ${FAKE_KEY}`, notes: [FAKE_KEY] } };
    });
    const c = await open();

    const started = await c.call('start_generation_run', { ...VALID_START });
    const out = success(started);
    expect(JSON.stringify(started.structuredContent)).not.toContain(FAKE_KEY);
    expect(textOf(started)).not.toContain(FAKE_KEY);
    expect(out.debug).toEqual({ echoed_key: '[redacted]', header: 'Authorization: Bearer [redacted]' });
    expect(out.run_id).toMatch(/^run_/);

    const polled = await c.call('poll_run', { run_id: out.run_id });
    const state = success(polled, 1);
    expect(JSON.stringify(polled.structuredContent)).not.toContain(FAKE_KEY);
    expect(textOf(polled)).not.toContain(FAKE_KEY);
    expect(state.error_message).toBe('called with [redacted]');
    expect(state.notes).toEqual(['[redacted]']);
    expect(state.status).toBe('completed');
    expect(fake.requests).toHaveLength(2);
  });

  it('is redacted even when FLORA echoes it as an object key', async () => {
    fake.route('GET /runs/:id', (_req, _res, ctx) => {
      const reply = ctx.defaultReply();
      return { ...reply, body: { ...(reply.body as object), debug: { [FAKE_KEY]: 'seen', [`Bearer ${FAKE_KEY}`]: 1 } } };
    });
    const c = await open();
    const runId = success(await c.call('start_generation_run', { ...VALID_START })).run_id;
    const polled = await c.call('poll_run', { run_id: runId });

    expect(success(polled, 1).status).toBe('completed');
    expect(textOf(polled)).not.toContain(FAKE_KEY);
    expect(JSON.stringify(polled.structuredContent)).not.toContain(FAKE_KEY);
  });

  /** Outputs that echo the key: a text output holding it, and a media URL with it in the path. */
  const echoingOutputs = (runId: string) => [
    { output_id: 'o_text', type: 'text', url: `Your key is ${FAKE_KEY}.` },
    { output_id: 'o_img', type: 'imageUrl', url: `https://media.flora.ai/${runId}/${FAKE_KEY}.png` },
  ];

  /** The blocks after the JSON one: the outputs still there, with the key redacted. */
  function expectRedactedOutputBlocks(result: CallToolResult, runId: string): void {
    expect(JSON.stringify(result)).not.toContain(FAKE_KEY);
    expect(result.content[1]).toEqual({ type: 'text', text: 'Your key is [redacted].' });
    expect(result.content[2]).toMatchObject({
      type: 'resource_link',
      uri: `https://media.flora.ai/${runId}/[redacted].png`,
      name: '[redacted].png',
      mimeType: 'image/png',
    });
  }

  it('is redacted from the output blocks of poll_run (text outputs and resource links)', async () => {
    fake.route('GET /runs/:id', () => ({
      status: 200,
      body: {
        run_id: 'run_echo',
        status: 'completed',
        progress: 100,
        created_at: Date.now(),
        outputs: echoingOutputs('run_echo'),
      },
    }));
    const c = await open();
    const result = await c.call('poll_run', { run_id: 'run_echo' });
    const out = success(result, 2);

    expect(out.status).toBe('completed');
    expectRedactedOutputBlocks(result, 'run_echo');
    expect(fake.requests).toHaveLength(1);
  });

  it('is redacted from the output blocks of start_generation_run with wait_seconds', async () => {
    fake.route('GET /runs/:id', (req, _res, ctx) => {
      const reply = ctx.defaultReply();
      return { ...reply, body: { ...(reply.body as object), outputs: echoingOutputs(req.path.slice('/runs/'.length)) } };
    });
    const c = await open();
    const result = await c.call('start_generation_run', { ...VALID_START, wait_seconds: 10 });
    const out = success(result, 2);

    expect(out.run).toMatchObject({ status: 'completed', done: true });
    expectRedactedOutputBlocks(result, out.run_id as string);
    expect(fake.requestsTo('POST', '/generate')).toHaveLength(1);
  });
});

describe('FLORA answers the server cannot read', () => {
  it('an HTML 502 from a proxy is retried, then reported as a retryable upstream_error', async () => {
    fake.route('GET /models', faults.html(502));
    const c = await open();
    const error = failure(await c.call('list_models', {}));

    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true });
    expect(error.message).toContain('text/html');
    expect(error.message).toContain('gave up after 3 attempts');
    expect(fake.requests).toHaveLength(3);
    for (const r of fake.requests) expect(r.rawPath).toBe('/api/v1/models');
  });

  it('a truncated JSON body is upstream_error, not a crash', async () => {
    fake.route('GET /runs/:id', faults.truncated(200));
    const c = await open();
    const error = failure(await c.call('poll_run', { run_id: 'run_x' }));
    expect(error.code).toBe('upstream_error');
    expect(error.message).toContain('not valid JSON');
    expect(fake.requests).toHaveLength(1);
  });

  it('a success body of the wrong shape is upstream_error naming the field', async () => {
    fake.route('GET /models', () => ({ status: 200, body: { models: [{ name: 'no id' }] } }));
    const c = await open();
    const error = failure(await c.call('list_models', {}));
    expect(error.code).toBe('upstream_error');
    expect(error.message).toContain('unexpected shape');
    expect(error.message).toContain('models.0.model_id');
    expect(fake.requests).toHaveLength(1);
  });

  it('a reset connection on start is network_error carrying the idempotency_key every attempt used', async () => {
    fake.route('POST /generate', faults.reset);
    const c = await open();
    const error = failure(await c.call('start_generation_run', { ...VALID_START }));

    expect(error.code).toBe('network_error');
    expect(fake.requests).toHaveLength(3);
    const keys = new Set(fake.requests.map((r) => r.headers['idempotency-key']));
    expect(keys.size).toBe(1);
    expect(error.idempotency_key).toBe([...keys][0]);
    expect(error.message).toContain(`idempotency_key "${error.idempotency_key}"`);
    expect(fake.runs.size).toBe(0);
  });
});

describe('a tool that fails unexpectedly', () => {
  /** A tool taking no arguments and answering { ok: boolean }; only what it does differs. */
  function okTool(name: string, description: string, handler: () => Promise<{ structured: { ok: boolean } }>): ToolDefinition {
    return defineTool({
      name,
      title: name.charAt(0).toUpperCase() + name.slice(1),
      description,
      inputSchema: z.strictObject({}),
      outputSchema: z.looseObject({ ok: z.boolean() }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      handler,
    });
  }
  const explode = okTool('explode', 'Throws a plain Error.', async () => {
    throw new Error('kaboom in handler');
  });
  const misshapen = okTool('misshapen', 'Returns output that does not fit its schema.', async () => ({
    structured: { ok: 'yes' } as unknown as { ok: boolean },
  }));

  /** A server of these two tools and list_models, through the real SDK client. */
  const custom = () => open({ tools: [explode, misshapen, listModels()] });

  it('a handler throwing a plain Error becomes internal_error, and the server keeps answering', async () => {
    const { call, mcp } = await custom();

    const error = failure(await call('explode'));
    expect(error.code).toBe('internal_error');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('kaboom in handler');
    expect(error.message).toContain('bug in the server');

    expect(success(await call('list_models'))).toEqual({ models: COMPACT_MODELS });
    expect(failure(await call('explode')).code).toBe('internal_error');
    expect(mcp.inFlight()).toBe(0);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]!.rawPath).toBe('/api/v1/models');
  });

  it("output that does not fit the tool's own schema becomes internal_error, not a malformed result", async () => {
    const { call } = await custom();
    const error = failure(await call('misshapen'));
    expect(error.code).toBe('internal_error');
    expect(error.message).toContain('misshapen');
    expect(success(await call('list_models'))).toEqual({ models: COMPACT_MODELS });
  });
});

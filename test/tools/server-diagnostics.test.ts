/**
 * What the server tells about itself: who it is at initialize, the JSON Schema its tools/list
 * carries, the lines it writes to stderr (each call's outcome, the client's retries, transport
 * trouble, a server with no tools), and how it counts calls in flight for a clean shutdown.
 */
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createLogger, makeRedactor } from '../../src/log.js';
import { jsonSchemaOf } from '../../src/server.js';
import { listModels } from '../../src/tools/discovery/list-models.js';
import { defineTool, type ToolDefinition } from '../../src/tools/tool.js';
import { SERVER_NAME, VERSION } from '../../src/version.js';
import { FAKE_KEY, type FakeFlora, floraError } from '../helpers/fake-flora.js';
import { failure, success, useConnections } from '../helpers/harness.js';

let fake: FakeFlora;
const { open } = useConnections((f) => (fake = f));

/** A logger at `level` whose lines (as stderr would get them) are kept. */
function captured(level: 'info' | 'debug' = 'info') {
  const lines: string[] = [];
  return { lines, logger: createLogger(level, makeRedactor(FAKE_KEY), (line) => lines.push(line)) };
}

/** A tool taking no arguments and answering { ok: true } once `handler` resolves. */
function tool(name: string, handler: () => Promise<void>): ToolDefinition {
  return defineTool({
    name,
    title: name,
    description: `Test tool ${name}.`,
    inputSchema: z.strictObject({}),
    outputSchema: z.strictObject({ ok: z.boolean() }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    handler: async () => {
      await handler();
      return { structured: { ok: true } };
    },
  });
}

describe('initialize', () => {
  it('names the server, with a title a client can show, and its version', async () => {
    const c = await open();
    expect(c.client.getServerVersion()).toEqual({ name: SERVER_NAME, title: 'FLORA generations', version: VERSION });
  });
});

describe('JSON Schema in tools/list', () => {
  it('is draft 2020-12 without the keywords it implies: no $schema, no empty additionalProperties, no string propertyNames', () => {
    const schema = z.object({
      pair: z.tuple([z.string(), z.number()]),
      labels: z.record(z.string(), z.number()),
      open: z.looseObject({ a: z.string() }),
      closed: z.strictObject({ b: z.string() }),
    });
    expect(jsonSchemaOf(schema, 'input')).toEqual({
      type: 'object',
      properties: {
        // 2020-12's tuple form (draft 7 would say items: [...], additionalItems: false).
        pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }], items: false, minItems: 2, maxItems: 2 },
        labels: { type: 'object', additionalProperties: { type: 'number' } },
        open: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
        closed: { type: 'object', properties: { b: { type: 'string' } }, required: ['b'], additionalProperties: false },
      },
      required: ['pair', 'labels', 'open', 'closed'],
    });
  });

  it('keeps fields that happen to be named like those keywords: a properties map holds field names', () => {
    const schema = z.object({ additionalProperties: z.looseObject({}), propertyNames: z.string(), properties: z.string() });
    expect(jsonSchemaOf(schema, 'input')).toEqual({
      type: 'object',
      properties: {
        additionalProperties: { type: 'object', properties: {} },
        propertyNames: { type: 'string' },
        properties: { type: 'string' },
      },
      required: ['additionalProperties', 'propertyNames', 'properties'],
    });
  });

  it('drops only a string-typed propertyNames: a pattern on the keys stays', () => {
    const schema = z.object({ tags: z.record(z.string().regex(/^[a-z]+$/), z.number()) });
    const tags = (jsonSchemaOf(schema, 'input').properties as Record<string, Record<string, unknown>>).tags;
    expect(tags?.propertyNames).toEqual({ type: 'string', pattern: '^[a-z]+$' });
  });
});

describe('stderr lines', () => {
  it("log each call's outcome with its time: ok and FLORA's errors at info, an unexpected failure at error with its stack", async () => {
    const { lines, logger } = captured();
    const explode = tool('explode', async () => {
      throw new Error('kaboom in handler');
    });
    const c = await open({ logger, tools: [listModels(), explode] });
    fake.route('GET /models', () => floraError(404, 'not_found', 'No models here.'));

    failure(await c.call('list_models'));
    fake.route('GET /models', (_req, _res, ctx) => ctx.defaultReply());
    success(await c.call('list_models'));
    failure(await c.call('explode'));

    const outcomes = lines.filter((l) => / (list_models|explode) /.test(l));
    expect(outcomes).toEqual([
      expect.stringMatching(/ info: list_models -> not_found in \d+ ms\n$/),
      expect.stringMatching(/ info: list_models ok in \d+ ms\n$/),
      expect.stringMatching(/ error: explode failed unexpectedly Error: kaboom in handler\n\s+at /),
    ]);
    // Each time is this call's (milliseconds since it began), not a clock reading.
    for (const l of outcomes.slice(0, 2)) expect(Number(/ in (\d+) ms/.exec(l)?.[1])).toBeLessThan(60_000);
  });

  it("carry the FLORA client's retries: the server's logger is the client's", async () => {
    const { lines, logger } = captured();
    fake.once('GET /models', () => floraError(503, 'service_unavailable', 'Busy.'));
    const c = await open({ logger });

    success(await c.call('list_models'));

    expect(lines).toContainEqual(expect.stringMatching(/ warn: GET \/models failed with 503; retry 1\/\d+ in \d+ ms\n$/));
    expect(fake.requestsTo('GET', '/models')).toHaveLength(2);
  });

  it('report what the MCP transport could not handle, and the server keeps answering', async () => {
    const { lines, logger } = captured();
    const c = await open({ logger });

    // A response to a request the server never sent.
    await (c.client.transport as Transport).send({ jsonrpc: '2.0', id: 987_654, result: {} });
    success(await c.call('list_models'));

    expect(lines).toContainEqual(expect.stringMatching(/ warn: MCP transport: Received a response for an unknown message ID/));
  });

  it('warn when the enabled toolsets offer no tools, and an unknown tool then hears that none are available', async () => {
    const { lines, logger } = captured();
    const c = await open({ logger, tools: [], env: { FLORA_TOOLSETS: 'generate,media' } });

    expect(lines).toEqual([
      expect.stringMatching(
        / warn: no tools offered: the toolsets enabled \(generate, media\) have none in this version; see FLORA_TOOLSETS\n$/,
      ),
    ]);
    expect((await c.client.listTools()).tools).toEqual([]);
    await expect(c.call('list_models')).rejects.toThrow('Unknown tool "list_models". Available tools: none.');
  });

  it('say nothing about toolsets when tools are offered', async () => {
    const { lines, logger } = captured();
    await open({ logger });
    expect(lines).toEqual([]);
  });
});

describe('calls in flight', () => {
  it('are counted until answered; idle() waits for the last one, and resolves at once when none runs', async () => {
    const gates: Array<() => void> = [];
    let entered = 0;
    const hold = tool('hold', async () => {
      entered++;
      await new Promise<void>((resolve) => gates.push(resolve));
    });
    const c = await open({ tools: [hold] });
    const tick = () => new Promise((r) => setImmediate(r));

    await c.mcp.idle();
    expect(c.mcp.inFlight()).toBe(0);

    const first = c.call('hold');
    const second = c.call('hold');
    while (entered < 2) await tick();
    expect(c.mcp.inFlight()).toBe(2);
    let idle = false;
    const idled = c.mcp.idle().then(() => {
      idle = true;
    });

    gates[0]!();
    success(await first);
    await tick();
    expect(c.mcp.inFlight()).toBe(1);
    expect(idle).toBe(false);

    gates[1]!();
    success(await second);
    await idled;
    expect(idle).toBe(true);
    expect(c.mcp.inFlight()).toBe(0);
  });
});

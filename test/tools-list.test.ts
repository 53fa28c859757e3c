/**
 * tools/list as an MCP client sees it: a snapshot of everything the model reads (names, titles,
 * descriptions, schemas, annotations), plus the properties of it that must never drift.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';
import { buildTools } from '../src/tools/index.js';

const TOOLS = buildTools();
import { FakeFlora } from './helpers/fake-flora.js';
import { connect, type Connected } from './helpers/harness.js';

let fake: FakeFlora;
let conn: Connected | undefined;
let tools: Tool[];

beforeAll(async () => {
  fake = await FakeFlora.start();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(async () => {
  fake.reset();
  conn = await connect(fake);
  tools = (await conn.client.listTools()).tools;
});
afterEach(async () => {
  await conn?.close();
  conn = undefined;
  fake.assertAllRouted();
});

function tool(name: string): Tool {
  const t = tools.find((x) => x.name === name);
  if (!t) throw new Error(`tool ${name} not listed`);
  return t;
}

type JsonSchema = {
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema | JsonSchema[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  additionalProperties?: JsonSchema | boolean;
  description?: string;
};

/** Every property at any depth, as [path, schema]. */
function allProperties(schema: JsonSchema, at = ''): Array<[string, JsonSchema]> {
  const out: Array<[string, JsonSchema]> = [];
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    const path = at ? `${at}.${key}` : key;
    out.push([path, prop]);
    out.push(...allProperties(prop, path));
  }
  const nested = [
    ...(Array.isArray(schema.items) ? schema.items : schema.items ? [schema.items] : []),
    ...(schema.anyOf ?? []),
    ...(schema.oneOf ?? []),
    ...(schema.allOf ?? []),
    ...(typeof schema.additionalProperties === 'object' ? [schema.additionalProperties] : []),
  ];
  for (const sub of nested) out.push(...allProperties(sub, `${at}[]`));
  return out;
}

describe('tools/list', () => {
  it('matches the snapshot of what the model reads', () => {
    expect(
      tools.map((t) => ({
        name: t.name,
        title: t.title,
        description: t.description,
        inputSchema: t.inputSchema,
        outputSchema: t.outputSchema,
        annotations: t.annotations,
      })),
    ).toMatchSnapshot();
    expect(fake.requests).toHaveLength(0);
  });

  it('lists list_models, start_generation_run and poll_run in that order', () => {
    expect(tools.map((t) => t.name)).toEqual(['list_models', 'start_generation_run', 'poll_run']);
  });

  it('marks list_models and poll_run as read-only and idempotent', () => {
    for (const name of ['list_models', 'poll_run']) {
      expect(tool(name).annotations, name).toMatchObject({
        readOnlyHint: true,
        idempotentHint: true,
        destructiveHint: false,
        openWorldHint: true,
      });
    }
  });

  it('marks start_generation_run as a non-idempotent, open-world write that destroys nothing', () => {
    expect(tool('start_generation_run').annotations).toEqual({
      title: 'Start a FLORA generation (billed)',
      readOnlyHint: false,
      idempotentHint: false,
      openWorldHint: true,
      destructiveHint: false,
    });
  });

  it('gives every tool a title and a description, and says start_generation_run costs money', () => {
    for (const t of tools) {
      expect(t.title?.trim(), t.name).toBeTruthy();
      expect(t.description?.trim(), t.name).toBeTruthy();
      expect(t.annotations?.title).toBe(t.title);
    }
    expect(tool('start_generation_run').title).toContain('billed');
    expect(tool('start_generation_run').description).toContain('Costs money');
  });

  it('describes every input property, nested ones included', () => {
    let checked = 0;
    const missing: string[] = [];
    for (const t of tools) {
      for (const [path, prop] of allProperties(t.inputSchema as JsonSchema)) {
        checked++;
        if (typeof prop.description !== 'string' || prop.description.trim() === '') missing.push(`${t.name}.${path}`);
      }
    }
    expect(missing).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(10);
  });

  it('requires exactly project_id, workspace_id, prompt and type for start_generation_run', () => {
    const schema = tool('start_generation_run').inputSchema;
    expect([...(schema.required ?? [])].sort()).toEqual(['project_id', 'prompt', 'type', 'workspace_id']);
    expect(Object.keys(schema.properties ?? {}).sort()).toEqual(
      ['callback_url', 'idempotency_key', 'model', 'params', 'project_id', 'prompt', 'type', 'wait_seconds', 'workspace_id'].sort(),
    );
    expect(schema.additionalProperties).toBe(false);
  });

  it('requires run_id for poll_run and nothing for list_models', () => {
    expect(tool('poll_run').inputSchema.required).toEqual(['run_id']);
    expect(tool('list_models').inputSchema.required ?? []).toEqual([]);
  });

  it('publishes exactly the JSON Schema of each registered tool', () => {
    expect(tools.map((t) => t.name)).toEqual(TOOLS.map((t) => t.name));
    for (const def of TOOLS) {
      const listed = tool(def.name);
      expect(listed.inputSchema, def.name).toEqual(z.toJSONSchema(def.inputSchema, { target: 'draft-7', io: 'input' }));
      expect(listed.outputSchema, def.name).toEqual(z.toJSONSchema(def.outputSchema, { target: 'draft-7', io: 'output' }));
      expect(listed.inputSchema.type).toBe('object');
      expect(listed.outputSchema?.type).toBe('object');
    }
  });
});

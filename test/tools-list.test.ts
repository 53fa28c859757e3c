/**
 * tools/list as an MCP client sees it: a snapshot of everything the model reads (names, titles,
 * descriptions, schemas, annotations), plus the properties of it that must never drift.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { loadConfig } from '../src/config.js';
import { jsonSchemaOf, SPEC_DEFAULT_HINTS } from '../src/server.js';
import { buildTools } from '../src/tools/index.js';
import { FakeFlora } from './helpers/fake-flora.js';
import { connect, failure, TOOL_NAMES, VALID_CALLS, type Connected } from './helpers/harness.js';
import { DEFAULTS_ENV, TOOLS_LIST_BUDGETS } from './helpers/tools-list-budget.js';

const TOOLS = buildTools();

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

  it('lists the generate tools, then upload_media, then list_techniques and run_technique, then the batch tools, in that order', () => {
    expect(tools.map((t) => t.name)).toEqual(TOOL_NAMES);
  });

  /**
   * The hints as a client reads them: what is published, the spec's defaults for the rest. For a
   * read-only tool, destructive and idempotent mean nothing (the spec says so); a client that
   * reads them anyway gets what a read-only tool is: nothing destroyed, repeatable.
   */
  function hintsOf(t: Tool): Record<string, unknown> {
    const read = { ...SPEC_DEFAULT_HINTS, ...t.annotations };
    return read.readOnlyHint ? { ...read, destructiveHint: false, idempotentHint: true } : read;
  }

  it('marks list_workspaces, list_projects, list_models, poll_run, list_techniques and poll_runs as read-only, open-world', () => {
    for (const name of ['list_workspaces', 'list_projects', 'list_models', 'poll_run', 'list_techniques', 'poll_runs']) {
      expect(hintsOf(tool(name)), name).toEqual({
        readOnlyHint: true,
        idempotentHint: true,
        destructiveHint: false,
        openWorldHint: true,
      });
      // Only what a client could not infer from the spec's defaults is published.
      expect(tool(name).annotations, name).toEqual({ readOnlyHint: true });
    }
  });

  it('marks start_generation_run, upload_media, run_technique and start_generation_batch as non-idempotent, open-world writes that destroy nothing', () => {
    for (const name of ['start_generation_run', 'upload_media', 'run_technique', 'start_generation_batch']) {
      expect(hintsOf(tool(name)), name).toEqual({
        readOnlyHint: false,
        idempotentHint: false,
        openWorldHint: true,
        destructiveHint: false,
      });
      // The one hint whose default (destructive) would be wrong is stated.
      expect(tool(name).annotations, name).toEqual({ destructiveHint: false });
    }
  });

  it('refuses, for every tool, an argument the tool does not have, and sends nothing to FLORA', async () => {
    for (const [name, args] of VALID_CALLS) {
      const error = failure(await conn!.call(name, { ...args, aspect_ratio: '16:9' }));
      expect(error.code, name).toBe('invalid_arguments');
      expect(error.fields, name).toEqual([
        { field: 'aspect_ratio', message: 'not a parameter of this tool (model-specific settings go inside params)' },
      ]);
    }
    expect(fake.requests).toHaveLength(0);
  });

  it('gives every tool a title and a description, and says start_generation_run and run_technique cost money', () => {
    for (const t of tools) {
      expect(t.title?.trim(), t.name).toBeTruthy();
      expect(t.description?.trim(), t.name).toBeTruthy();
      // The title lives at the top level only; annotations carry just the four hints.
      expect(t.annotations, t.name).not.toHaveProperty('title');
    }
    expect(tool('start_generation_run').title).toContain('billed');
    expect(tool('start_generation_run').description).toContain('Billed');
    expect(tool('run_technique').title).toContain('billed');
    expect(tool('run_technique').description).toContain("Billed at the technique's run_cost (USD");
    expect(tool('start_generation_batch').title).toContain('billed');
  });

  it('keeps start_generation_batch and poll_runs within their 1,700-byte share, every item field named for the model', () => {
    const bytes = ['start_generation_batch', 'poll_runs'].reduce(
      (n, name) => n + Buffer.byteLength(JSON.stringify(tool(name))),
      0,
    );
    expect(bytes).toBeLessThanOrEqual(1_700);
    const generations = (tool('start_generation_batch').inputSchema.properties as Record<string, JsonSchema>).generations!;
    for (const field of ['prompt', 'type', 'model', 'params', 'project_id', 'workspace_id', 'callback_url', 'idempotency_key']) {
      expect(generations.description).toContain(field);
    }
    expect(generations).toMatchObject({ maxItems: 20, items: { type: 'object' } });
  });

  it('describes every input property, nested ones included, with default env and with the ID defaults set', async () => {
    const withDefaults = await connect(fake, { env: DEFAULTS_ENV });
    try {
      const listings: Array<[string, Tool[]]> = [
        ['default env', tools],
        ['ID defaults env', (await withDefaults.client.listTools()).tools],
      ];
      for (const [label, listed] of listings) {
        let checked = 0;
        const missing: string[] = [];
        for (const t of listed) {
          for (const [path, prop] of allProperties(t.inputSchema as JsonSchema)) {
            checked++;
            if (typeof prop.description !== 'string' || prop.description.trim() === '') missing.push(`${t.name}.${path}`);
          }
        }
        expect(missing, label).toEqual([]);
        // list_projects 4, list_models 2, start_generation_run 10, poll_run 3, upload_media 3, preview_media 3,
        // list_techniques 4, run_technique 7, start_generation_batch 3 (its items are described in generations'), poll_runs 2.
        expect(checked, label).toBe(41);
      }
    } finally {
      await withDefaults.close();
    }
  });

  it.each(TOOLS_LIST_BUDGETS)(
    'keeps tools/list with toolsets $toolsets within $bytes bytes, with default env and with every default set',
    async ({ toolsets, bytes }) => {
      for (const env of [{}, DEFAULTS_ENV]) {
        const c = await connect(fake, { env: { ...env, FLORA_TOOLSETS: toolsets } });
        try {
          const listed = (await c.client.listTools()).tools;
          expect(listed.map((t) => t.name)).toEqual(buildTools(loadConfig({ FLORA_TOOLSETS: toolsets })).map((t) => t.name));
          if (env === DEFAULTS_ENV) {
            // The env is really in effect: defaults named, the larger maximum published.
            expect(JSON.stringify(listed)).toContain('ws_studio');
            expect(JSON.stringify(listed)).toContain('prj_mugs');
            const wait = (
              listed.find((t) => t.name === 'poll_run')!.inputSchema.properties as Record<string, { maximum: number }>
            ).wait_seconds!;
            expect(wait.maximum).toBe(600);
          }
          expect(Buffer.byteLength(JSON.stringify({ tools: listed }), 'utf8')).toBeLessThanOrEqual(bytes);
        } finally {
          await c.close();
        }
      }
      expect(fake.requests).toHaveLength(0);
    },
  );

  it('requires exactly project_id, workspace_id, prompt and type for start_generation_run', () => {
    const schema = tool('start_generation_run').inputSchema;
    expect([...(schema.required ?? [])].sort()).toEqual(['project_id', 'prompt', 'type', 'workspace_id']);
    expect(Object.keys(schema.properties ?? {}).sort()).toEqual(
      [
        'callback_url',
        'idempotency_key',
        'model',
        'params',
        'project_id',
        'prompt',
        'type',
        'wait_seconds',
        'workspace_id',
        'estimate_only',
      ].sort(),
    );
  });

  it('requires source and workspace_id for upload_media, and only source once FLORA_WORKSPACE_ID is set', async () => {
    const schema = tool('upload_media').inputSchema;
    expect(schema.required).toEqual(['source', 'workspace_id']);
    expect(Object.keys(schema.properties ?? {})).toEqual(['source', 'workspace_id', 'project_id']);
    const withDefaults = await connect(fake, { env: DEFAULTS_ENV });
    try {
      const listed = (await withDefaults.client.listTools()).tools.find((t) => t.name === 'upload_media')!;
      expect(listed.inputSchema.required).toEqual(['source']);
    } finally {
      await withDefaults.close();
    }
  });

  it('requires technique_id, inputs and workspace_id for run_technique, nothing for list_techniques', () => {
    const schema = tool('run_technique').inputSchema;
    expect([...(schema.required ?? [])].sort()).toEqual(['inputs', 'technique_id', 'workspace_id']);
    expect(Object.keys(schema.properties ?? {}).sort()).toEqual(
      ['callback_url', 'idempotency_key', 'inputs', 'technique_id', 'wait_seconds', 'workspace_id', 'estimate_only'].sort(),
    );
    expect(tool('list_techniques').inputSchema.required ?? []).toEqual([]);
    expect(Object.keys(tool('list_techniques').inputSchema.properties ?? {})).toEqual([
      'query',
      'workspace_id',
      'limit',
      'cursor',
    ]);
  });

  it('requires run_id for poll_run, workspace_id for list_projects and nothing for list_models or list_workspaces', () => {
    expect(tool('poll_run').inputSchema.required).toEqual(['run_id']);
    expect(Object.keys(tool('poll_run').inputSchema.properties ?? {})).toEqual(['run_id', 'technique_id', 'wait_seconds']);
    expect(tool('list_projects').inputSchema.required).toEqual(['workspace_id']);
    expect(tool('list_models').inputSchema.required ?? []).toEqual([]);
    expect(tool('list_workspaces').inputSchema.required ?? []).toEqual([]);
    expect(tool('list_workspaces').inputSchema.properties).toEqual({});
  });

  it('publishes exactly the JSON Schema of each registered tool, and an output schema for every tool but the lists', () => {
    expect(tools.map((t) => t.name)).toEqual(TOOLS.map((t) => t.name));
    for (const def of TOOLS) {
      const listed = tool(def.name);
      expect(listed.inputSchema, def.name).toEqual(jsonSchemaOf(def.inputSchema, 'input'));
      expect(listed.inputSchema.type).toBe('object');
      if (def.outputSchema) {
        expect(listed.outputSchema, def.name).toEqual(jsonSchemaOf(def.outputSchema, 'output'));
        expect(listed.outputSchema?.type).toBe('object');
      } else {
        expect(listed, def.name).not.toHaveProperty('outputSchema');
      }
    }
    expect(tools.filter((t) => t.outputSchema === undefined).map((t) => t.name)).toEqual([
      'list_workspaces',
      'list_projects',
      'list_models',
      'list_techniques',
    ]);
  });

  it('leaves out what JSON Schema says by default, and the rules the server checks instead of publishing', () => {
    let outputs = 0;
    for (const t of tools) {
      expect(t.inputSchema, t.name).not.toHaveProperty('additionalProperties');
      for (const [io, schema] of [
        ['input', t.inputSchema],
        ['output', t.outputSchema],
      ] as const) {
        if (schema === undefined) continue;
        if (io === 'output') outputs++;
        expect(schema, `${t.name} ${io}`).not.toHaveProperty('$schema');
        const text = JSON.stringify(schema);
        expect(text, `${t.name} ${io}`).not.toContain('"additionalProperties":{}');
        expect(text, `${t.name} ${io}`).not.toContain('"items":{}');
        expect(text, `${t.name} ${io}`).not.toContain('"propertyNames":{"type":"string"}');
        // ID formats and non-empty strings are refined, not published (src/tools/fields.ts).
        expect(text, `${t.name} ${io}`).not.toContain('"pattern"');
        expect(text, `${t.name} ${io}`).not.toContain('"minLength"');
      }
    }
    // Every tool but the four lists.
    expect(outputs).toBe(tools.length - 4);
  });
});

describe('jsonSchemaOf', () => {
  it('drops implied keywords from schema nodes (items: {} too) but keeps fields that happen to bear their names', () => {
    const schema = z.looseObject({
      additionalProperties: z.unknown().describe('a field named like the keyword'),
      propertyNames: z.string().describe('another one'),
      tags: z.record(z.string(), z.unknown()),
      items: z.array(z.unknown()).describe('and one named like items'),
    });
    const published = jsonSchemaOf(schema, 'output');
    expect(published).toEqual({
      type: 'object',
      properties: {
        additionalProperties: { description: 'a field named like the keyword' },
        propertyNames: { type: 'string', description: 'another one' },
        tags: { type: 'object' },
        items: { type: 'array', description: 'and one named like items' },
      },
      required: ['additionalProperties', 'propertyNames', 'tags', 'items'],
    });
  });

  it("leaves out only the arguments' own additionalProperties: false, not what a nested field says of its keys", () => {
    const schema = z.strictObject({
      inputs: z.record(z.string(), z.string()),
      nested: z.strictObject({ a: z.string() }).optional(),
    });
    expect(jsonSchemaOf(schema, 'input')).toEqual({
      type: 'object',
      properties: {
        inputs: { type: 'object', additionalProperties: { type: 'string' } },
        nested: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false },
      },
      required: ['inputs'],
    });
    // An output schema says what it says.
    expect(jsonSchemaOf(z.strictObject({ a: z.string() }), 'output')).toHaveProperty('additionalProperties', false);
  });
});

/**
 * Property-based tests (fast-check) of the two nets every answer passes through:
 *
 * 1. Tool arguments: for each tool, arbitrary JSON arguments (the tool's real
 *    property names with valid-looking and arbitrary JSON values, plus random extra keys) never
 *    crash the server; the result is always a well-formed success or a well-formed
 *    {"error":{...}}; arguments the tool's zod inputSchema rejects give `invalid_arguments` and
 *    send nothing to FLORA. Afterwards the server still serves a valid call.
 * 2. The error mapper: arbitrary FLORA error answers (status, body, retry-after, content-type)
 *    always become a well-formed FloraError, promptly; through the MCP server, the API key never
 *    reaches the agent even when FLORA echoes it back.
 *
 * wait_seconds is kept at 0 on every path that could reach FLORA, so no run waits.
 */
import fc from 'fast-check';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { FloraError, type ErrorPayload } from '../src/errors.js';
import { FloraClient } from '../src/flora/client.js';
import { ModelList } from '../src/flora/schemas.js';
import { buildTools } from '../src/tools/index.js';
import type { ToolDefinition } from '../src/tools/tool.js';
import { FAKE_KEY, MODELS, type FakeFlora, type Reply } from './helpers/fake-flora.js';
import { TECHNIQUES } from './helpers/fake-techniques.js';
import { useConnections, VALID_START, VALID_TECHNIQUE_RUN, type Connected } from './helpers/harness.js';
import { quadrantsPng } from './helpers/test-images.js';

let fake: FakeFlora;

const { open } = useConnections((f) => (fake = f));

/** The definitions the server uses with an env that names no defaults (as the harness's). */
const DEFS = new Map<string, ToolDefinition>(buildTools().map((t) => [t.name, t]));
const MAX_WAIT = 50;
const CODE_RE = /^[A-Za-z0-9_.:-]+$/;
/** PROPERTY_SCALE=20 multiplies every numRuns, for a longer hunt than CI needs. */
const SCALE = Math.max(1, Number(process.env.PROPERTY_SCALE) || 1);
const runs = (n: number) => n * SCALE;
const TOOL_RUNS = 80;

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/** Pieces that are awkward in IDs, paths and queries. */
const piece = fc.constantFrom(
  'a',
  'Z',
  '9',
  'x1',
  '_',
  '-',
  '.',
  '..',
  '/',
  '?',
  '#',
  '%',
  '%2F',
  '&',
  '=',
  ' ',
  '\t',
  '\n',
  '\\',
  'é',
  '😀',
  '\u0000',
  '\u007f',
);
const awkward = fc.array(piece, { maxLength: 6 }).map((a) => a.join(''));
const shortString = fc.oneof(
  awkward,
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.constantFrom('', ' ', '  \t', '\n', 'mug', 'Mug shoot', '../etc', '?a=b#c'),
);
const cleanSuffix = fc.stringMatching(/^[a-z0-9_-]{1,8}$/);
function prefixed(prefix: string, known: readonly string[] = []) {
  return fc.oneof(
    { weight: 4, arbitrary: cleanSuffix.map((s) => prefix + s) },
    { weight: 2, arbitrary: awkward.map((s) => prefix + s) },
    { weight: known.length ? 3 : 0, arbitrary: fc.constantFrom(...(known.length ? known : [prefix])) },
    { weight: 1, arbitrary: fc.constantFrom(prefix, `${prefix.toUpperCase()}x`, ` ${prefix}x`, `${prefix}x `) },
  );
}
const anyPrefixed = fc.oneof(prefixed('ws_'), prefixed('prj_'), prefixed('run_'));
const modelIds = MODELS.map((m) => m.model_id);
const techniqueIds = TECHNIQUES.map((t) => t.technique_id);
/** Technique inputs: declared IDs and others, text, URLs, file names and empty strings. */
const techniqueInputs = fc.dictionary(
  fc.constantFrom('product', 'scene', 'style_ref', 'clip', 'style', 'episode', 'title', 'x'),
  fc.constantFrom('', 'a mug', 'https://media.flora.ai/u/a.png', 'mug.png', 'http://127.0.0.1/a.png'),
  { maxKeys: 3 },
);

/** Values that look like what each property wants (often valid, sometimes just off). */
function plausible(name: string, knownRuns: readonly string[]): fc.Arbitrary<unknown> {
  switch (name) {
    case 'workspace_id':
      return fc.oneof(
        { weight: 5, arbitrary: prefixed('ws_', ['ws_studio', 'ws_client']) },
        { weight: 1, arbitrary: anyPrefixed },
        { weight: 1, arbitrary: shortString },
      );
    case 'project_id':
      return fc.oneof(
        { weight: 5, arbitrary: prefixed('prj_', ['prj_mugs', 'prj_s01']) },
        { weight: 1, arbitrary: anyPrefixed },
        { weight: 1, arbitrary: shortString },
      );
    case 'run_id':
      return fc.oneof(
        { weight: 5, arbitrary: prefixed('run_', knownRuns) },
        { weight: 1, arbitrary: anyPrefixed },
        { weight: 1, arbitrary: shortString },
      );
    case 'type':
      return fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom('image', 'video', 'audio', 'text') },
        { weight: 1, arbitrary: fc.constantFrom('IMAGE', 'images', '', ' image') },
      );
    case 'detail':
      return fc.oneof({ weight: 5, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.constantFrom('true', 0, 1, null) });
    case 'limit':
      return fc.oneof(fc.integer({ min: -3, max: 120 }), fc.constantFrom(1, 20, 100, 0.5, 1e9, -0));
    case 'wait_seconds':
      return fc.oneof(
        fc.constant(0),
        fc.integer({ min: -5, max: 120 }),
        fc.double({ min: -1, max: 1000, noNaN: true }),
        fc.constantFrom('5', null),
      );
    case 'source':
      return fc.oneof(
        { weight: 2, arbitrary: fc.constantFrom('https://example.com/mug.png', 'https://example.com/a%20b.jpg?x=1') },
        { weight: 2, arbitrary: fc.constantFrom('http://example.com/a.png', 'photo.png', '~/a.png', './a.png', 'ftp://h/a') },
        { weight: 2, arbitrary: fc.constantFrom('/nonexistent/a.png', 'file:///nonexistent/a.png', 'file://host/a.png', '/') },
        { weight: 1, arbitrary: fc.constantFrom('https://', 'https:', 'file:', ' ', '', 'C:\\a.png') },
        { weight: 1, arbitrary: shortString },
      );
    case 'model':
      return fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...modelIds) },
        { weight: 1, arbitrary: fc.constantFrom('gpt', 't2i flux', '', 'FLUX.2 Pro') },
        { weight: 1, arbitrary: shortString },
      );
    case 'technique_id':
      return fc.oneof(
        { weight: 5, arbitrary: prefixed('tech_', techniqueIds) },
        { weight: 1, arbitrary: anyPrefixed },
        { weight: 1, arbitrary: shortString },
      );
    case 'inputs':
      return fc.oneof(
        { weight: 4, arbitrary: techniqueInputs },
        { weight: 1, arbitrary: fc.dictionary(shortString, fc.jsonValue()) },
      );
    case 'params':
      return fc.oneof(
        fc.constant({}),
        fc.record(
          { aspect_ratio: fc.constantFrom('1:1', '16:9', '4:3'), seed: fc.integer(), duration: fc.integer({ min: 0, max: 12 }) },
          { requiredKeys: [] },
        ),
        fc
          .uniqueArray(
            fc.tuple(fc.constantFrom('aspect_ratio', 'seed', 'duration', 'x', '__proto__'), fc.jsonValue({ maxDepth: 1 })),
            { maxLength: 3, selector: (e) => e[0] },
          )
          .map((e) => Object.fromEntries(e)),
      );
    case 'url':
      // Never FLORA's real hosts: a valid URL here is fetched. The fake's media (listed), the
      // same on an unlisted name, foreign and internal hosts (refused before any request).
      return fc.oneof(
        {
          weight: 3,
          arbitrary: fc.constantFrom(fake.media.url('p.png'), fake.media.url('p.png').replace('127.0.0.1', 'localhost')),
        },
        { weight: 2, arbitrary: fc.constantFrom('https://example.com/a.png', 'http://169.254.169.254/', 'file:///etc/passwd') },
        { weight: 1, arbitrary: shortString },
      );
    case 'size':
      return fc.oneof(fc.integer({ min: 100, max: 1600 }), fc.constantFrom(128, 1536, 768.5, '768', null));
    case 'callback_url':
      return fc.constantFrom(
        'https://example.com/cb',
        'https://example.com/cb?x=1#f',
        'http://example.com/cb',
        'ftp://example.com',
        'not a url',
        'https://',
        '',
      );
    case 'idempotency_key':
      return fc.oneof(fc.uuid(), shortString, fc.constantFrom('k'.repeat(255), 'k'.repeat(256), 'a b', 'é'));
    case 'prompt':
      return fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom('a ceramic mug', 'x', ' a', 'a\nb') },
        { weight: 2, arbitrary: shortString },
      );
    case 'generations':
      return fc.oneof(
        { weight: 3, arbitrary: fc.array(argsFor(ITEM_FIELDS, ITEM_REQUIRED, knownRuns), { maxLength: 3 }) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            [],
            Array.from({ length: 21 }, () => VALID_START),
            [null],
            ['x'],
          ),
        },
      );
    case 'run_ids':
      return fc.oneof(
        { weight: 3, arbitrary: fc.array(plausible('run_id', knownRuns), { maxLength: 3 }) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            [],
            Array.from({ length: 21 }, (_, i) => `run_${i}`),
            ['run_a', 'run_a'],
          ),
        },
      );
    default:
      return shortString;
  }
}

/** Values each property accepts, so that many generated calls are valid and reach FLORA. */
function validValue(name: string, knownRuns: readonly string[]): fc.Arbitrary<unknown> {
  switch (name) {
    case 'workspace_id':
      return fc.oneof(
        fc.constantFrom('ws_studio', 'ws_client'),
        cleanSuffix.map((s) => `ws_${s}`),
      );
    case 'project_id':
      return fc.oneof(
        fc.constantFrom('prj_mugs', 'prj_s01'),
        cleanSuffix.map((s) => `prj_${s}`),
      );
    case 'run_id':
      return fc.oneof(
        fc.constantFrom(...(knownRuns.length ? knownRuns : ['run_x'])),
        cleanSuffix.map((s) => `run_${s}`),
      );
    case 'type':
      return fc.constantFrom('image', 'video', 'audio', 'text');
    case 'detail':
      return fc.boolean();
    case 'limit':
      return fc.integer({ min: 1, max: 100 });
    case 'wait_seconds':
      return fc.constant(0);
    case 'model':
      return fc.oneof(fc.constantFrom(...modelIds), cleanSuffix);
    case 'technique_id':
      return fc.oneof(
        fc.constantFrom(...techniqueIds),
        cleanSuffix.map((s) => `tech_${s}`),
      );
    case 'inputs':
      return techniqueInputs;
    case 'params':
      return fc.oneof(
        fc.constant({}),
        fc.record({ aspect_ratio: fc.constantFrom('1:1', '16:9', '4:3'), seed: fc.integer() }, { requiredKeys: [] }),
      );
    case 'callback_url':
      return fc.constantFrom('https://example.com/cb', 'https://example.com/cb?x=1#f');
    case 'idempotency_key':
      return fc.uuid();
    case 'url':
      return fc.constant(fake.media.url('p.png'));
    case 'size':
      return fc.integer({ min: 128, max: 1536 });
    case 'prompt':
      return fc.oneof(
        fc.constantFrom('a ceramic mug', 'x', ' a', 'a\nb'),
        fc.string({ minLength: 1, maxLength: 8 }).map((s) => `p${s}`),
      );
    case 'generations':
      return fc.array(
        fc
          .record({
            prompt: validValue('prompt', knownRuns),
            type: validValue('type', knownRuns),
            project_id: validValue('project_id', knownRuns),
            workspace_id: validValue('workspace_id', knownRuns),
          })
          .map((item) => ({ ...item })),
        { minLength: 1, maxLength: 3 },
      );
    case 'run_ids':
      return fc.uniqueArray(validValue('run_id', knownRuns), { minLength: 1, maxLength: 3 });
    default:
      return fc.string({ minLength: 1, maxLength: 8 });
  }
}

/** Extra keys: usually none; else some junk, near-misses of real names, and prototype names. */
const extraKeys = fc.oneof(
  { weight: 4, arbitrary: fc.constant([] as Array<[string, unknown]>) },
  {
    weight: 1,
    arbitrary: fc.uniqueArray(
      fc.tuple(
        fc.oneof(
          fc.string({ maxLength: 6 }),
          fc.constantFrom('__proto__', 'constructor', 'toString', '_meta', 'Workspace_id', 'workspace_id ', 'run', 'wait'),
        ),
        fc.jsonValue({ maxDepth: 1 }),
      ),
      { minLength: 1, maxLength: 2, selector: (e) => e[0] },
    ),
  },
);

/** No run waits: a wait the schema would accept becomes 0 (out-of-range stays out of range). */
function noWait(args: Record<string, unknown>): Record<string, unknown> {
  const w = args.wait_seconds;
  if (Object.hasOwn(args, 'wait_seconds') && typeof w === 'number' && w > 0 && w <= MAX_WAIT) {
    Object.defineProperty(args, 'wait_seconds', { value: 0, enumerable: true, writable: true, configurable: true });
  }
  return args;
}

type Entry = [string, unknown];

/**
 * Arguments for a tool with these property names, as own data properties (even "__proto__"):
 * half a free mix of plausible and arbitrary JSON values, half a valid call with at most a
 * couple of changes (a value replaced, a required argument dropped), each with random extra keys.
 */
function argsFor(
  props: readonly string[],
  required: readonly string[],
  knownRuns: readonly string[],
): fc.Arbitrary<Record<string, unknown>> {
  const mixed = fc.tuple(
    ...props.map((p) =>
      fc.option(
        fc
          .oneof({ weight: 6, arbitrary: plausible(p, knownRuns) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) })
          .map((v): Entry => [p, v]),
        { nil: undefined, freq: required.includes(p) ? 8 : 2 },
      ),
    ),
  );
  const nearValid = fc
    .tuple(
      fc.tuple(
        ...props.map((p) =>
          required.includes(p)
            ? validValue(p, knownRuns).map((v): Entry | undefined => [p, v])
            : fc.option(
                validValue(p, knownRuns).map((v): Entry => [p, v]),
                { nil: undefined, freq: 2 },
              ),
        ),
      ),
      fc.array(
        fc.tuple(
          fc.constantFrom(...(props.length ? props : ['x'])),
          fc.oneof(plausible('', knownRuns), fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined)),
        ),
        { maxLength: 2 },
      ),
    )
    .map(([base, changes]) => {
      const out = new Map(base.filter((e): e is Entry => e !== undefined));
      for (const [k, v] of changes) {
        if (v === undefined) out.delete(k);
        else out.set(k, v);
      }
      return [...out] as Array<Entry | undefined>;
    });
  return fc
    .tuple(
      extraKeys,
      fc.oneof(
        mixed.map((e) => [...e]),
        nearValid,
      ),
    )
    .map(([extra, own]) => noWait(Object.fromEntries([...extra, ...own.filter((e): e is Entry => e !== undefined)])));
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A result is a success (text = JSON of structuredContent) or exactly {"error":{...}}. */
function checkResult(result: CallToolResult): { ok: true } | { ok: false; error: ErrorPayload } {
  expect(isRecord(result)).toBe(true);
  expect(Array.isArray(result.content)).toBe(true);
  const first = result.content[0];
  expect(first?.type).toBe('text');
  const text = (first as { text: string }).text;
  if (!result.isError) {
    expect(isRecord(result.structuredContent), text).toBe(true);
    expect(text).toBe(JSON.stringify(result.structuredContent));
    return { ok: true };
  }
  expect(result.structuredContent).toBeUndefined();
  expect(result.content).toHaveLength(1);
  const parsed = JSON.parse(text) as unknown;
  expect(isRecord(parsed) && Object.keys(parsed)).toEqual(['error']);
  const error = (parsed as { error: ErrorPayload }).error;
  expect(isRecord(error), text).toBe(true);
  checkPayload(error, text);
  return { ok: false, error };
}

function checkPayload(p: ErrorPayload, context: string): void {
  expect(typeof p.code === 'string' && p.code.length > 0, context).toBe(true);
  expect(typeof p.message === 'string' && p.message.trim().length > 0, context).toBe(true);
  expect(typeof p.retryable, context).toBe('boolean');
  if (p.status !== undefined) expect(Number.isInteger(p.status), context).toBe(true);
  if (p.retry_after_seconds !== undefined) {
    expect(
      typeof p.retry_after_seconds === 'number' && Number.isFinite(p.retry_after_seconds) && p.retry_after_seconds >= 0,
      context,
    ).toBe(true);
  }
  if (p.fields !== undefined) {
    expect(Array.isArray(p.fields), context).toBe(true);
    for (const f of p.fields) expect(typeof f.field === 'string' && typeof f.message === 'string', context).toBe(true);
  }
}

/** What the server receives: the arguments after the JSON round trip of the wire. */
function overTheWire(args: Record<string, unknown>): Record<string, unknown> {
  const parsed = JSON.parse(JSON.stringify(args)) as Record<string, unknown>;
  // The SDK's own request schema (arguments: z.record) drops an own "__proto__" key before the
  // server's handler runs, so the server never sees it: it is ignored there, not refused.
  return Object.fromEntries(Object.entries(parsed).filter(([k]) => k !== '__proto__'));
}

/**
 * A call that must succeed, for "the server keeps serving". Not harness's VALID_CALLS (arguments
 * that are merely valid): these must succeed against the fake, so poll_run asks for a real run.
 */
const SUCCEEDING_CALLS: Record<string, (runId: string) => Record<string, unknown>> = {
  list_workspaces: () => ({}),
  list_projects: () => ({ workspace_id: 'ws_studio', limit: 5 }),
  list_models: () => ({ type: 'image' }),
  start_generation_run: () => ({ ...VALID_START, model: 't2i-flux-2-pro', params: { aspect_ratio: '16:9' }, wait_seconds: 0 }),
  poll_run: (runId) => ({ run_id: runId, wait_seconds: 0 }),
  upload_media: () => ({ source: 'https://example.com/mug.png', workspace_id: 'ws_studio' }),
  preview_media: (runId) => ({ run_id: runId, size: 128 }),
  list_techniques: () => ({ query: 'shot', limit: 2 }),
  run_technique: () => ({ ...VALID_TECHNIQUE_RUN, wait_seconds: 0 }),
  start_generation_batch: () => ({ generations: [VALID_START, { ...VALID_START, model: 't2i-flux-2-pro' }], wait_seconds: 0 }),
  poll_runs: (runId) => ({ run_ids: [runId], wait_seconds: 0 }),
};

/** The fields of one batch item, the same as start_generation_run's (wait_seconds aside). */
const ITEM_FIELDS = ['prompt', 'type', 'model', 'params', 'project_id', 'workspace_id', 'callback_url', 'idempotency_key'];
const ITEM_REQUIRED = ['prompt', 'type', 'project_id', 'workspace_id'];

// ---------------------------------------------------------------------------------------------
// 1. Arbitrary arguments
// ---------------------------------------------------------------------------------------------

describe('property: arbitrary tool arguments', () => {
  it.each([...DEFS.keys()])(
    '%s: never crashes, always answers well-formed, and invalid arguments never reach FLORA',
    async (name) => {
      const def = DEFS.get(name)!;
      // Runs show an image of the fake's media host (listed), so preview_media fetches nothing real.
      fake.media.serve('p.png', { contentType: 'image/png', bytes: () => quadrantsPng(64, 48) });
      fake.runPlan = { durationMs: 0, outputs: [{ type: 'imageUrl', url: fake.media.url('p.png') }] };
      const conn: Connected = await open({ env: { FLORA_MEDIA_HOSTS: '127.0.0.1' } });
      const listed = (await conn.client.listTools()).tools.find((t) => t.name === name);
      expect(listed).toBeDefined();
      const props = Object.keys((listed!.inputSchema.properties ?? {}) as Record<string, unknown>);
      const required = (listed!.inputSchema.required ?? []) as string[];
      expect(props.sort()).toEqual(Object.keys(def.inputSchema.shape).sort());

      // A real run, so poll_run's valid-looking IDs sometimes find one.
      const started = await conn.call('start_generation_run', { ...VALID_START, wait_seconds: 0 });
      expect(started.isError ?? false, JSON.stringify(started.content)).toBe(false);
      const runId = (started.structuredContent as { run_id: string }).run_id;

      const stats = { valid: 0, invalid: 0, succeeded: 0, floraErrors: 0 };
      await fc.assert(
        fc.asyncProperty(argsFor(props, required, [runId]), async (args) => {
          const wire = overTheWire(args);
          const valid = def.inputSchema.safeParse(wire).success;
          fake.requests.length = 0;
          fake.media.requests.length = 0;
          const t0 = Date.now();
          const result = await conn.call(name, args);
          expect(Date.now() - t0, 'a call must not wait').toBeLessThan(5_000);
          const outcome = checkResult(result);
          if (!valid) {
            stats.invalid++;
            expect(outcome.ok, JSON.stringify(result.content)).toBe(false);
            if (!outcome.ok) {
              expect(outcome.error.code).toBe('invalid_arguments');
              expect(outcome.error.retryable).toBe(false);
              expect(outcome.error.fields?.length ?? 0).toBeGreaterThan(0);
            }
            expect(fake.requests.map((r) => `${r.method} ${r.rawPath}`)).toEqual([]);
            expect(fake.media.requests.map((r) => r.path)).toEqual([]);
          } else {
            stats.valid++;
            if (outcome.ok) stats.succeeded++;
            else {
              stats.floraErrors++;
              expect(outcome.error.code, 'arguments the schema accepts are not invalid_arguments').not.toBe('invalid_arguments');
            }
          }
        }),
        { numRuns: runs(TOOL_RUNS) },
      );
      // The property is not vacuous: both sides were exercised.
      expect(stats.invalid).toBeGreaterThan(0);
      if (props.length > 0) expect(stats.valid).toBeGreaterThan(0);

      // The server keeps serving.
      const after = await conn.call(name, SUCCEEDING_CALLS[name]!(runId));
      const outcome = checkResult(after);
      expect(outcome.ok, JSON.stringify(after.content)).toBe(true);
    },
    30_000,
  );
});

// ---------------------------------------------------------------------------------------------
// 2. Arbitrary FLORA error answers
// ---------------------------------------------------------------------------------------------

const keyish = fc.constantFrom(FAKE_KEY, `Bearer ${FAKE_KEY}`, `key=${FAKE_KEY};`, `"${FAKE_KEY}"`);
/** Strings as FLORA might send them: empty, unicode, HTML, and sometimes our own key echoed. */
const floraString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '\n', '.', 'Not found.', 'é😀', '<b>x</b>') },
  { weight: 2, arbitrary: keyish },
  { weight: 2, arbitrary: fc.tuple(fc.string({ maxLength: 8 }), keyish, fc.string({ maxLength: 8 })).map((p) => p.join('')) },
);
const knownCodes = fc.constantFrom(
  'rate_limited',
  'unknown_error',
  'not_found',
  'input_validation_error',
  'invalid_json',
  'unauthorized',
  'invalid_api_key',
  'insufficient_credits',
  'forbidden',
  'paid_plan_required',
  'idempotency_duplicate',
  'internal_error',
);
const fieldsArb = fc.array(fc.record({ field: floraString, message: floraString }), { maxLength: 3 });

interface GeneratedBody {
  /** What the fake sends: a string verbatim, anything else as JSON. */
  body: unknown;
  /** Set when the body is a proper FLORA envelope: the code FLORA sent. */
  properCode?: string;
}

const properEnvelope: fc.Arbitrary<GeneratedBody> = fc
  .record(
    {
      code: fc.oneof(
        knownCodes,
        floraString.filter((s) => s.length > 0),
      ),
      message: floraString,
      fields: fieldsArb,
    },
    { requiredKeys: ['code'] },
  )
  .map((error) => ({ body: { error }, properCode: error.code }));

const wrongEnvelope: fc.Arbitrary<GeneratedBody> = fc
  .oneof(
    fc.record({ code: fc.oneof(fc.integer(), fc.constant(null), fc.constant('')), message: floraString }),
    fc.record({
      code: knownCodes,
      message: floraString,
      fields: fc.oneof(floraString, fc.integer(), fc.constant(null), fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 2 })),
    }),
    fc.record({ code: knownCodes, message: fc.oneof(fc.integer(), fc.constant(null), fc.array(floraString, { maxLength: 2 })) }),
    fc.record({ message: floraString }),
    fc.oneof(floraString, fc.constant(null), fc.integer(), fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 2 })),
  )
  .map((error) => ({ body: { error } }));

const bodyArb: fc.Arbitrary<GeneratedBody> = fc.oneof(
  { weight: 4, arbitrary: properEnvelope },
  { weight: 2, arbitrary: wrongEnvelope },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((body) => ({ body: JSON.stringify(body) })) },
  { weight: 1, arbitrary: floraString.map((body) => ({ body })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 400, max: 599 }), floraString)
      .map(([s, t]) => ({ body: `<html><head><title>${s}</title></head><body><h1>${s} Bad Gateway</h1>${t}</body></html>` })),
  },
  { weight: 1, arbitrary: fc.constant({ body: '' }) },
);

/** Characters Node accepts in a header value. */
const headerChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  fc.constant('\t'),
);
const headerString = fc.string({ unit: headerChar, maxLength: 24 });
const retryAfterValue = fc.oneof(
  fc.constantFrom(
    '0',
    '1',
    '2.5',
    '-1',
    '1e400',
    '1e308',
    '999999999999',
    'abc',
    '',
    ' ',
    ' 7 ',
    'NaN',
    'Infinity',
    '0x10',
    'Wed, 21 Oct 2015 07:28:00 GMT',
    'Fri, 31 Dec 9999 23:59:59 GMT',
    FAKE_KEY,
  ),
  fc.integer({ min: 0, max: 10 ** 9 }).map(String),
  headerString,
);
const contentType = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'text/html',
    'text/plain',
    '',
    'application/problem+json',
    `text/${FAKE_KEY}`,
  ),
  headerString,
);
const locationValue = fc.oneof(fc.constantFrom('', 'not a url', '//', 'http://[bad', `/login?key=${FAKE_KEY}`), headerString);

/**
 * 407 is left to its own property below: Node's fetch (undici, per the fetch spec) never hands a
 * 407 answer to the caller but rejects with a bare network error.
 */
const statusArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 400, max: 599 }).filter((s) => s !== 407) },
  { weight: 3, arbitrary: fc.constantFrom(400, 401, 403, 404, 409, 422, 429, 500, 501, 502, 503, 504) },
  { weight: 1, arbitrary: fc.integer({ min: 300, max: 399 }) },
  { weight: 1, arbitrary: fc.constantFrom(200, 201) },
);

interface Answer {
  status: number;
  generated: GeneratedBody;
  headers: Record<string, string>;
}

const answerArb: fc.Arbitrary<Answer> = fc
  .record({
    status: statusArb,
    generated: bodyArb,
    headers: fc.record(
      { 'retry-after': retryAfterValue, 'retry-after-ms': retryAfterValue, 'content-type': contentType, location: locationValue },
      { requiredKeys: [] },
    ),
  })
  // A 2xx whose body happens to be a valid model list is a success, not an error answer.
  .filter((a) => !(a.status < 300 && ModelList.safeParse(parseOrUndefined(wireText(a.generated.body))).success));

function wireText(body: unknown): string {
  return typeof body === 'string' ? body : JSON.stringify(body);
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * With no retries configured, FLORA sees one request. Node's fetch itself (per the fetch spec)
 * sends a request answered 421 Misdirected Request once more on a new connection when the first
 * went over a reused one: that one is not a retry of FloraClient's.
 */
function expectOneAttempt(status: number): void {
  const seen = fake.requests.map((r) => `${r.method} ${r.path}`);
  expect(seen.length, `no retries: ${seen.join(', ')}`).toBeGreaterThanOrEqual(1);
  expect(seen.length, `no retries: ${seen.join(', ')}`).toBeLessThanOrEqual(status === 421 ? 2 : 1);
  expect(new Set(seen)).toEqual(new Set(['GET /models']));
}

function replyOf(a: Answer): Reply {
  return { status: a.status, body: a.generated.body, headers: a.headers };
}

describe('property: arbitrary FLORA error answers', () => {
  it('FloraClient maps every non-success answer to a well-formed FloraError, promptly and without retrying', async () => {
    const client = new FloraClient({ apiKey: FAKE_KEY, baseUrl: new URL(fake.baseUrl), timeoutMs: 2_000, maxRetries: 0 });
    let current: Answer | undefined;
    fake.route('GET /models', () => replyOf(current!));
    await fc.assert(
      fc.asyncProperty(answerArb, async (answer) => {
        current = answer;
        fake.requests.length = 0;
        const t0 = Date.now();
        const outcome = await client.listModels(undefined).then(
          (value) => ({ resolved: value }),
          (err: unknown) => ({ rejected: err }),
        );
        const elapsed = Date.now() - t0;
        expect('rejected' in outcome, `resolved with ${JSON.stringify(outcome)}`).toBe(true);
        const err = (outcome as { rejected: unknown }).rejected;
        expect(err).toBeInstanceOf(FloraError);
        const p = (err as FloraError).toPayload();
        const context = JSON.stringify({ answer, payload: p });
        checkPayload(p, context);
        if (answer.generated.properCode !== undefined && answer.status >= 400) {
          // FLORA's own code, verbatim.
          expect(p.code, context).toBe(answer.generated.properCode);
        } else {
          expect(p.code, context).toMatch(CODE_RE);
        }
        if (answer.status >= 400) expect(p.status, context).toBe(answer.status);
        else if (p.code === 'upstream_error') expect(p.status, context).toBe(answer.status);
        if ([429, 500, 502, 503, 504].includes(answer.status)) expect(p.retryable, context).toBe(true);
        expectOneAttempt(answer.status);
        expect(elapsed, 'no waiting on Retry-After').toBeLessThan(3_000);
      }),
      { numRuns: runs(150) },
    );
  }, 30_000);

  /**
   * Was a known bug: Node's fetch turns any 407 answer into TypeError("fetch failed") whose cause
   * is a bare Error, which read as a retryable network_error. Something answering 407 with no proxy
   * configured is a proxy in the way that wants credentials: proxy_auth_required, not retried.
   */
  it('a 407 answer keeps its status, is not reported as a failed connection and is not retried', async () => {
    const client = new FloraClient({
      apiKey: FAKE_KEY,
      baseUrl: new URL(fake.baseUrl),
      timeoutMs: 2_000,
      maxRetries: 2,
      baseBackoffMs: 5,
    });
    let current: Answer | undefined;
    fake.route('GET /models', () => replyOf(current!));
    await fc.assert(
      fc.asyncProperty(
        answerArb.map((a) => ({ ...a, status: 407 })),
        async (answer) => {
          current = answer;
          fake.requests.length = 0;
          const err = await client.listModels(undefined).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(FloraError);
          const p = (err as FloraError).toPayload();
          expect(p).toMatchObject({ status: 407, code: 'proxy_auth_required', retryable: false });
          // The fake is http://, so the variable to set is HTTP_PROXY.
          expect(p.message).toContain('HTTP_PROXY=http://USER:PASSWORD@');
          expectOneAttempt(407);
        },
      ),
      { numRuns: 10 },
    );
  }, 30_000);

  /**
   * Found by this file: the error net used to redact the error result after serializing it, and
   * the bearer rule then swallowed the backslash of an escaped quote (`\"Bearer abc\"`), so the
   * agent got text that is not JSON. Errors are now redacted field by field, then serialized.
   */
  it('an error that quotes a bearer token is still exactly {"error":{...}} JSON, without the key', async () => {
    const conn = await open({ env: { FLORA_MAX_RETRIES: '0' } });
    let current: Reply | undefined;
    fake.route('GET /models', () => current!);
    const token = fc.oneof(fc.constantFrom(FAKE_KEY, 'abc123'), fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 400, max: 599 }).filter((s) => s !== 407),
        knownCodes,
        fc.string({ maxLength: 10 }),
        token,
        fc.string({ maxLength: 10 }),
        async (status, code, before, tok, after) => {
          current = { status, body: { error: { code, message: `${before}Authorization header "Bearer ${tok}"${after}` } } };
          const result = await conn.call('list_models', {});
          const outcome = checkResult(result);
          expect(outcome.ok).toBe(false);
          expect(JSON.stringify(result)).not.toContain(FAKE_KEY);
        },
      ),
      { numRuns: 10 },
    );
  }, 30_000);

  it('through the MCP server, list_models answers a well-formed error that never contains the API key', async () => {
    const conn = await open({ env: { FLORA_MAX_RETRIES: '0' } });
    let current: Answer | undefined;
    fake.route('GET /models', () => replyOf(current!));
    await fc.assert(
      fc.asyncProperty(answerArb, fc.constantFrom(undefined, 'image'), async (answer, type) => {
        current = answer;
        fake.requests.length = 0;
        const t0 = Date.now();
        const result = await conn.call('list_models', type === undefined ? {} : { type });
        const elapsed = Date.now() - t0;
        const context = JSON.stringify({ answer, result });
        const outcome = checkResult(result);
        expect(outcome.ok, context).toBe(false);
        expect(JSON.stringify(result), context).not.toContain(FAKE_KEY);
        if (!outcome.ok) {
          const p = outcome.error;
          const code = answer.generated.properCode;
          if (code !== undefined && answer.status >= 400 && !/sk_(live|test)_|Bearer/.test(code)) {
            expect(p.code, context).toBe(code);
          } else if (code === undefined || answer.status < 400) {
            expect(p.code, context).toMatch(CODE_RE);
          }
          if (answer.status >= 400) expect(p.status, context).toBe(answer.status);
        }
        expectOneAttempt(answer.status);
        expect(elapsed, 'no waiting on Retry-After').toBeLessThan(3_000);
      }),
      { numRuns: runs(100) },
    );
    // The server keeps serving once FLORA answers properly again.
    fake.route('GET /models', (_req, _res, ctx) => ctx.defaultReply());
    const ok = checkResult(await conn.call('list_models', {}));
    expect(ok.ok).toBe(true);
  }, 30_000);
});

/**
 * src/flora/catalog.ts on its own: `closest` and `preflight` against hand-made model lists (no
 * HTTP), and ModelCatalog against the fake FLORA: TTL, one shared fetch, failures paused.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FloraError } from '../src/errors.js';
import { closest, ModelCatalog, preflight } from '../src/flora/catalog.js';
import { FloraClient } from '../src/flora/client.js';
import type { GenerateBody, Model } from '../src/flora/schemas.js';
import { silentLogger, type Logger } from '../src/log.js';
import { FAKE_KEY, type FakeFlora, faults, floraError, modelById, MODELS } from './helpers/fake-flora.js';
import { useFakeFlora } from './helpers/harness.js';

/** A model MODELS does not have, with only what preflight reads. */
function m(model_id: string, type: string, params: Model['params'] = []): Model {
  return { model_id, name: model_id, type, provider: 'test', params };
}

/** The shared fixture's model, taking `extra` params after its own: param types MODELS has no need for. */
function withParams(id: string, extra: Model['params']): Model {
  const model = modelById(id);
  return { ...model, params: [...model.params, ...extra] };
}

// FLUX: aspect_ratio (string options), seed (seed), then these.
const IMAGE = withParams('t2i-flux-2-pro', [
  { name: 'guidance', type: 'float', required: false, min: 1, max: 10 },
  { name: 'raw', type: 'bool', required: false },
  { name: 'styles', type: 'string[]', required: false },
  { name: 'negative', type: 'string', required: false },
]);
// Kling: duration (int, 5 to 10, default 5), then these.
const VIDEO = withParams('t2v-kling-2', [
  { name: 'fps', type: 'int', required: false, options: [{ value: 24 }, { value: 30 }] },
  { name: 'loop', type: 'bool', required: false, options: [{ value: true }, { value: false }] },
  { name: 'camera', type: 'dict', required: false, options: [{ value: { move: 'pan' } }, { value: { move: 'zoom' } }] },
  { name: 'seed', type: 'int?', required: false },
  { name: 'image_url', type: 'string', required: true },
  { name: 'mode', type: 'string', required: true, default: 'std' },
]);
const AUDIO = modelById('t2a-eleven-sfx');
const CATALOG: Model[] = [IMAGE, m('t2i-sdxl', 'image'), m('t2i-flux-1-dev', 'image'), VIDEO, AUDIO];

function body(extra: Partial<GenerateBody>): GenerateBody {
  return { project_id: 'prj_1', workspace_id: 'ws_1', prompt: 'a mug', type: 'image', ...extra };
}

/** The refusal preflight throws; fails when it lets the body through. */
function refusal(b: GenerateBody, models: readonly Model[] = CATALOG): FloraError {
  try {
    preflight(b, models);
  } catch (err) {
    expect(err).toBeInstanceOf(FloraError);
    const e = err as FloraError;
    expect(e.code).toBe('input_validation_error');
    expect(e.retryable).toBe(false);
    expect(e.message).toContain('nothing was sent to FLORA and nothing was billed');
    return e;
  }
  throw new Error(`preflight let ${JSON.stringify(b)} through`);
}

/** The single field issue of a refusal. */
function issue(b: GenerateBody, models?: readonly Model[]): { field: string; message: string } {
  const e = refusal(b, models);
  expect(e.fields).toHaveLength(1);
  return e.fields![0]!;
}

const video = (params: Record<string, unknown>) =>
  body({ type: 'video', model: 't2v-kling-2', params: { image_url: 'https://x.example/a.png', ...params } });

describe('closest', () => {
  it('orders candidates by edit distance, nearest first', () => {
    expect(closest('cat', ['dog', 'cart', 'cat', 'category'])).toEqual(['cat', 'cart', 'dog', 'category']);
    expect(closest('t2i-flux-2-por', ['t2v-kling-2', 't2i-flux-1-dev', 't2i-flux-2-pro'])).toEqual([
      't2i-flux-2-pro',
      't2i-flux-1-dev',
      't2v-kling-2',
    ]);
  });

  it('keeps catalog order between equally close candidates', () => {
    expect(closest('cat', ['cut', 'bat', 'cot'])).toEqual(['cut', 'bat', 'cot']);
    expect(closest('cat', ['cot', 'bat', 'cut'])).toEqual(['cot', 'bat', 'cut']);
  });

  it('ignores case', () => {
    expect(closest('FLUX', ['flax', 'flux'])).toEqual(['flux', 'flax']);
  });

  it('counts insertions, deletions and substitutions alike', () => {
    // "abc" -> "abcd" (insert), "ab" (delete), "abx" (substitute): all 1; "xyz": 3.
    expect(closest('abc', ['xyz', 'abcd', 'ab', 'abx'])).toEqual(['abcd', 'ab', 'abx', 'xyz']);
  });

  it('returns nothing for no candidates, and does not change its input', () => {
    expect(closest('x', [])).toEqual([]);
    const input = ['b', 'a'];
    closest('a', input);
    expect(input).toEqual(['b', 'a']);
  });
});

describe('preflight: the model', () => {
  it('lets a known model of the right type with valid params through', () => {
    expect(() => preflight(body({ model: 't2i-flux-2-pro', params: { aspect_ratio: '16:9', seed: 3 } }), CATALOG)).not.toThrow();
    expect(() => preflight(video({ duration: 7, fps: 30, loop: false }), CATALOG)).not.toThrow();
  });

  it('throws nothing when body.model is undefined, whatever the params', () => {
    expect(() => preflight(body({ params: { bogus: 1, aspect_ratio: '4:3' } }), CATALOG)).not.toThrow();
    expect(() => preflight(body({ type: 'video' }), [])).not.toThrow();
  });

  it('refuses an unknown model, listing models of the asked type closest first and no others', () => {
    const e = refusal(body({ model: 't2i-flux-2-por' }));
    expect(e.fields).toEqual([{ field: 'model', message: expect.stringContaining('Unknown model "t2i-flux-2-por"') }]);
    expect(e.message).toContain('image models, closest first: t2i-flux-2-pro, t2i-flux-1-dev, t2i-sdxl.');
    expect(e.message).not.toContain('t2v-kling-2');
    expect(e.message).not.toContain('t2a-eleven-sfx');
  });

  it('lists at most 8 suggestions', () => {
    const many = Array.from({ length: 12 }, (_, i) => m(`img-${String(i).padStart(2, '0')}`, 'image'));
    const e = refusal(body({ model: 'img-xx' }), many);
    const list = /closest first: ([^.;]+)/.exec(e.message)?.[1]?.split(', ');
    expect(list).toHaveLength(8);
  });

  it('refuses a model of another type, saying what it makes', () => {
    const e = refusal(body({ type: 'image', model: 't2v-kling-2' }));
    expect(e.fields?.map((f) => f.field)).toEqual(['model']);
    expect(e.message).toContain('Model "t2v-kling-2" makes video, not image');
    expect(e.message).toContain('image models, closest first: ');
  });

  it('says so when no model of the asked type is available', () => {
    const e = refusal(body({ type: 'text', model: 'llm-claude' }));
    expect(e.message).toContain('Unknown model "llm-claude"');
    expect(e.message).toContain('no text model is available to this key');
  });

  it('matches model IDs exactly (no case folding)', () => {
    expect(issue(body({ model: 'T2I-FLUX-2-PRO' })).field).toBe('model');
  });
});

describe('preflight: the params', () => {
  it('refuses an unknown param, listing the accepted names', () => {
    expect(issue(body({ model: 't2i-flux-2-pro', params: { steps: 30 } }))).toEqual({
      field: 'params.steps',
      message: 'unknown parameter; t2i-flux-2-pro accepts aspect_ratio, seed, guidance, raw, styles, negative',
    });
  });

  it('refuses any param for a model that takes none', () => {
    expect(issue(body({ type: 'audio', model: 't2a-eleven-sfx', params: { seed: 1 } }))).toEqual({
      field: 'params.seed',
      message: 't2a-eleven-sfx takes no params',
    });
  });

  it('refuses a value outside the options, listing the allowed values', () => {
    expect(issue(body({ model: 't2i-flux-2-pro', params: { aspect_ratio: '4:3' } }))).toEqual({
      field: 'params.aspect_ratio',
      message: 'must be one of "1:1", "16:9" (got "4:3")',
    });
  });

  it('compares options by value: numbers and booleans must be numbers and booleans', () => {
    expect(() => preflight(video({ fps: 24, loop: true }), CATALOG)).not.toThrow();
    expect(issue(video({ fps: '24' }))).toEqual({ field: 'params.fps', message: 'must be one of 24, 30 (got "24")' });
    expect(issue(video({ loop: 'true' }))).toEqual({ field: 'params.loop', message: 'must be one of true, false (got "true")' });
    expect(issue(video({ fps: 25 })).message).toBe('must be one of 24, 30 (got 25)');
  });

  it('compares object options by content, not identity', () => {
    expect(() => preflight(video({ camera: { move: 'zoom' } }), CATALOG)).not.toThrow();
    expect(issue(video({ camera: { move: 'tilt' } })).field).toBe('params.camera');
  });

  it.each([
    ['int', video({ duration: 7.5 }), 'params.duration', 'must be an integer (got 7.5)'],
    ['int given a string', video({ duration: '7' }), 'params.duration', 'must be an integer (got "7")'],
    ['seed', body({ model: 't2i-flux-2-pro', params: { seed: 1.5 } }), 'params.seed', 'must be an integer (got 1.5)'],
    ['int?', video({ seed: 2.5 }), 'params.seed', 'must be an integer (got 2.5)'],
    ['float', body({ model: 't2i-flux-2-pro', params: { guidance: '3' } }), 'params.guidance', 'must be a number (got "3")'],
    ['bool', body({ model: 't2i-flux-2-pro', params: { raw: 1 } }), 'params.raw', 'must be true or false (got 1)'],
    ['string', body({ model: 't2i-flux-2-pro', params: { negative: 5 } }), 'params.negative', 'must be a string (got 5)'],
    ['string[]', body({ model: 't2i-flux-2-pro', params: { styles: ['a', 2] } }), 'params.styles', 'must be a list of strings'],
    [
      'string[] given a string',
      body({ model: 't2i-flux-2-pro', params: { styles: 'a' } }),
      'params.styles',
      'must be a list of strings',
    ],
  ])('refuses a wrong type for %s', (_name, b, field, message) => {
    expect(issue(b)).toEqual({ field, message });
  });

  it('refuses numbers below min and above max, and accepts the bounds', () => {
    expect(issue(video({ duration: 4 }))).toEqual({ field: 'params.duration', message: 'must be at least 5 (got 4)' });
    expect(issue(video({ duration: 11 }))).toEqual({ field: 'params.duration', message: 'must be at most 10 (got 11)' });
    expect(issue(body({ model: 't2i-flux-2-pro', params: { guidance: 10.5 } })).message).toBe('must be at most 10 (got 10.5)');
    expect(() => preflight(video({ duration: 5 }), CATALOG)).not.toThrow();
    expect(() => preflight(video({ duration: 10 }), CATALOG)).not.toThrow();
    expect(() => preflight(body({ model: 't2i-flux-2-pro', params: { guidance: 1 } }), CATALOG)).not.toThrow();
  });

  it('accepts null for int? (and for any param: null means "use the default")', () => {
    expect(() => preflight(video({ seed: null }), CATALOG)).not.toThrow();
    expect(() => preflight(video({ seed: 42 }), CATALOG)).not.toThrow();
  });

  it('refuses a required param without default when missing; one with a default may be left out', () => {
    const e = refusal(body({ type: 'video', model: 't2v-kling-2', params: {} }));
    expect(e.fields).toEqual([{ field: 'params.image_url', message: 'required by this model' }]);
    expect(e.message).not.toContain('params.mode');
    const noParams = refusal(body({ type: 'video', model: 't2v-kling-2' }));
    expect(noParams.fields?.map((f) => f.field)).toEqual(['params.image_url']);
  });

  it('reports every problem at once, each naming its param', () => {
    const e = refusal(body({ type: 'video', model: 't2v-kling-2', params: { duration: 3, fps: 60, steps: 1 } }));
    expect(e.fields?.map((f) => f.field)).toEqual(['params.duration', 'params.fps', 'params.steps', 'params.image_url']);
    expect(e.message).toContain('params do not fit model t2v-kling-2: params.duration: must be at least 5 (got 3)');
  });

  it('tolerates catalog params with null options, min and max', () => {
    const loose = m('t2i-loose', 'image', [{ name: 'n', type: 'int', required: false, options: null, min: null, max: null }]);
    expect(() => preflight(body({ model: 't2i-loose', params: { n: -5 } }), [loose])).not.toThrow();
    expect(issue(body({ model: 't2i-loose', params: { n: 0.5 } }), [loose]).field).toBe('params.n');
  });
});

describe('ModelCatalog against FLORA', () => {
  let fake: FakeFlora;
  useFakeFlora((f) => (fake = f));

  afterEach(() => {
    vi.useRealTimers();
  });

  function catalog(ttlMs?: number, log: Logger = silentLogger): ModelCatalog {
    const client = new FloraClient({
      apiKey: FAKE_KEY,
      baseUrl: new URL(fake.baseUrl),
      timeoutMs: 30_000,
      maxRetries: 2,
      baseBackoffMs: 5,
      maxBackoffMs: 20,
    });
    return new ModelCatalog(client, log, ttlMs);
  }

  const fetches = () => fake.requestsTo('GET', '/models');
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('fetches GET /models (no type filter) with the key and returns the models', async () => {
    const models = await catalog().get();

    expect(models).toEqual(MODELS);
    expect(fetches()).toHaveLength(1);
    expect(fetches()[0]!.query).toEqual({});
    expect(fetches()[0]!.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
  });

  it('honours the TTL: no request within it, a fresh catalog after it', async () => {
    const c = catalog(100);
    expect(await c.get()).toEqual(MODELS);
    fake.models = [MODELS[0]!];
    expect(await c.get()).toEqual(MODELS);
    expect(fetches()).toHaveLength(1);

    await sleep(150);
    expect(await c.get()).toEqual([MODELS[0]]);
    expect(fetches()).toHaveLength(2);
  });

  it('keeps the catalog for 10 minutes by default', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const c = catalog();
    await c.get();
    vi.setSystemTime(Date.now() + 9 * 60_000);
    await c.get();
    expect(fetches()).toHaveLength(1);
    vi.setSystemTime(Date.now() + 2 * 60_000);
    await c.get();
    expect(fetches()).toHaveLength(2);
  });

  it('concurrent get() calls share one request and one result', async () => {
    fake.route('GET /models', async (_req, _res, ctx) => {
      await sleep(100);
      return ctx.defaultReply();
    });
    const c = catalog();
    const [a, b, d] = await Promise.all([c.get(), c.get(), c.get()]);

    expect(fetches()).toHaveLength(1);
    expect(a).toEqual(MODELS);
    expect(b).toBe(a);
    expect(d).toBe(a);
  });

  it.each([
    ['a 500', () => floraError(500, 'internal_error', 'Catalog down.')],
    ['a reset connection', faults.reset],
    ['a 401', () => floraError(401, 'invalid_api_key', 'Invalid API key.')],
  ] as const)(
    'after %s get() returns undefined without throwing or retrying, and an immediate second get() does not ask FLORA again',
    async (_name, handler) => {
      fake.route('GET /models', handler);
      const warnings: string[] = [];
      const log: Logger = { ...silentLogger, warn: (msg) => warnings.push(msg) };
      const c = catalog(undefined, log);

      expect(await c.get()).toBeUndefined();
      expect(fetches()).toHaveLength(1);
      expect(await c.get()).toBeUndefined();
      expect(fetches()).toHaveLength(1);
      expect(warnings.some((w) => w.includes('model catalog unavailable'))).toBe(true);
    },
  );

  it('tries again once the 60 s pause after a failure is over', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    fake.once('GET /models', () => floraError(503, 'unavailable', 'Try later.'));
    const c = catalog();

    expect(await c.get()).toBeUndefined();
    vi.setSystemTime(Date.now() + 30_000);
    expect(await c.get()).toBeUndefined();
    expect(fetches()).toHaveLength(1);

    vi.setSystemTime(Date.now() + 31_000);
    expect(await c.get()).toEqual(MODELS);
    expect(fetches()).toHaveLength(2);
  });

  it('a hanging GET /models gives up after 5 s and returns undefined', { timeout: 15_000 }, async () => {
    fake.route('GET /models', faults.hang);
    const t0 = Date.now();
    expect(await catalog().get()).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(12_000);
    expect(fetches()).toHaveLength(1);
  });
});

describe('preflight: required params', () => {
  const needs = (name: string) => m('i2v-needs', 'video', [{ name, type: 'string', required: true }]);

  it('counts a required param sent as null as missing', () => {
    const f = issue(body({ type: 'video', model: 'i2v-needs', params: { image_url: null } }), [needs('image_url')]);
    expect(f).toEqual({ field: 'params.image_url', message: 'required by this model' });
  });

  it('does not mistake an inherited object member for a given param', () => {
    const f = issue(body({ type: 'video', model: 'i2v-needs', params: {} }), [needs('constructor')]);
    expect(f).toEqual({ field: 'params.constructor', message: 'required by this model' });
  });
});

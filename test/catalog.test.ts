/**
 * src/flora/catalog.ts on its own: `closest` and `preflight` against hand-made model lists (no
 * HTTP), and ModelCatalog against the fake FLORA: TTL, one shared fetch, failures paused. Also
 * src/flora/media-inputs.ts: which media a model takes, under which param names, and the checks
 * preflight makes of media URLs.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FloraError } from '../src/errors.js';
import { closest, ModelCatalog, preflight } from '../src/flora/catalog.js';
import { FloraClient } from '../src/flora/client.js';
import { mediaInputs, mediaParamRules } from '../src/flora/media-inputs.js';
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

  it('a hanging GET /models gives up at the lookup cap (5 s by default; 300 ms here) and returns undefined', async () => {
    fake.route('GET /models', faults.hang);
    const client = new FloraClient({ apiKey: FAKE_KEY, baseUrl: new URL(fake.baseUrl), timeoutMs: 30_000, maxRetries: 2 });
    // The client alone would wait 30 s and retry twice: only the lookup's own cap ends it, at once and for good.
    expect(await new ModelCatalog(client, silentLogger, undefined, 300).get()).toBeUndefined();
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

/** A model known only by ID and capabilities, as mediaInputs reads it. */
const ided = (model_id: string, capabilities?: string[]) => ({ model_id, capabilities });

describe('mediaInputs: which media a model takes', () => {
  it.each([
    ['i2i-qwen-image-edit', ['image']],
    ['i2v-kling-2.5', ['image']],
    ['r2v-vidu-q1', ['image']],
    ['i2v-kling-o1-references', ['image']],
    ['i2t-gemini-2.5-flash', ['image']],
    ['v2t-gemini-2.5-pro', ['video']],
    ['v2v-runway-aleph', ['video']],
    ['t2i-flux-2-pro', []],
    ['t2v-kling-2', []],
    ['t2a-eleven-sfx', []],
    ['llm-claude', []],
  ])('%s (ID prefix, no capabilities) takes %j', (id, kinds) => {
    expect(mediaInputs(ided(id))).toEqual(kinds);
    expect(mediaInputs(ided(id, []))).toEqual(kinds);
  });

  it('reads only a prefix, exactly: the family in the middle of an ID or in capitals does not count', () => {
    expect(mediaInputs(ided('flux-i2i-pro'))).toEqual([]);
    expect(mediaInputs(ided('xi2v-kling'))).toEqual([]);
    expect(mediaInputs(ided('I2V-kling'))).toEqual([]);
    expect(mediaInputs(ided('i2v'))).toEqual([]);
  });

  it('knows no audio-input prefix (none is documented): audio comes only from capabilities', () => {
    expect(mediaInputs(ided('a2v-omnihuman'))).toEqual([]);
    expect(mediaInputs(ided('a2v-omnihuman', ['audio-to-video']))).toEqual(['audio']);
  });

  it.each([
    [['image-to-video'], ['image']],
    [['image-to-image'], ['image']],
    [['image-to-text'], ['image']],
    [['video-to-text'], ['video']],
    [['video-to-video'], ['video']],
    [['audio-to-video'], ['audio']],
    [['image-to-3d'], ['image']],
    [['Image_To_Video'], ['image']],
    [[' image to video '], ['image']],
    [['text-to-video', 'text-generation', 'upscale'], []],
    [['video-generation', 'image'], []],
  ])('reads capabilities %j as %j on an ID with no known prefix', (caps, kinds) => {
    expect(mediaInputs(ided('kling-3-omni', caps))).toEqual(kinds);
  });

  it('lists each medium once, image before video before audio, from prefix and capabilities together', () => {
    expect(mediaInputs(ided('x', ['audio-to-video', 'video-to-video', 'image-to-video']))).toEqual(['image', 'video', 'audio']);
    expect(mediaInputs(ided('i2v-x', ['image-to-video', 'audio-to-video']))).toEqual(['image', 'audio']);
    expect(mediaInputs(ided('v2v-x', ['image-to-video']))).toEqual(['image', 'video']);
  });

  it('agrees with the fixture catalog (whose media models list no media param)', () => {
    expect(Object.fromEntries(MODELS.map((m) => [m.model_id, mediaInputs(m)]))).toEqual({
      't2i-flux-2-pro': [],
      't2v-kling-2': [],
      't2a-eleven-sfx': [],
      'llm-claude': [],
      'i2v-kling-2.5': ['image'],
      'i2i-qwen-image-edit': ['image'],
      'i2t-gemini-2.5-flash': ['image'],
      'v2v-runway-aleph': ['video'],
    });
  });
});

describe('mediaParamRules: the names each family honours', () => {
  const rules = (id: string, caps?: string[]) => Object.fromEntries(mediaParamRules(ided(id, caps)));

  it.each(['i2i-qwen-image-edit', 'i2v-kling-2.5'])('%s honours image_url and refuses image_urls (ignored, billed)', (id) => {
    const r = rules(id);
    expect(Object.keys(r)).toEqual(['image_url', 'image_urls']);
    expect(r.image_url).toEqual({ kind: 'image', shape: 'one', verdict: 'accept' });
    expect(r.image_urls).toMatchObject({ kind: 'image', shape: 'many', verdict: 'refuse' });
    const reason = (r.image_urls as { reason: string }).reason;
    expect(reason).toContain('use image_url (one URL)');
    expect(reason).toContain(`${id.slice(0, 3)} models ignore image_urls and FLORA still bills the run`);
  });

  it.each([
    ['i2t-gemini-2.5-flash', 'image'],
    ['v2t-gemini-2.5-pro', 'video'],
  ] as const)('%s (vision) honours the plural %s_urls and refuses the singular (answers blind)', (id, kind) => {
    const r = rules(id);
    expect(Object.keys(r)).toEqual([`${kind}_url`, `${kind}_urls`]);
    expect(r[`${kind}_urls`]).toEqual({ kind, shape: 'many', verdict: 'accept' });
    expect(r[`${kind}_url`]).toMatchObject({ kind, shape: 'one', verdict: 'refuse' });
    const reason = (r[`${kind}_url`] as { reason: string }).reason;
    expect(reason).toContain(`use ${kind}_urls (a list, also for one ${kind})`);
    expect(reason).toContain(`answer without seeing the ${kind}`);
  });

  it('refuses both video names on a video-to-video model, explaining the text-to-video billing', () => {
    for (const r of [rules('v2v-runway-aleph'), rules('runway-aleph', ['video-to-video'])]) {
      expect(Object.keys(r)).toEqual(['video_url', 'video_urls']);
      for (const rule of Object.values(r)) {
        expect(rule).toMatchObject({ kind: 'video', verdict: 'refuse' });
        expect((rule as { reason: string }).reason).toContain('bill the run as text-to-video');
        expect((rule as { reason: string }).reason).toContain('canvas edge');
      }
    }
  });

  it('accepts image_url on multi-reference models and image_urls only with a warning (undocumented)', () => {
    for (const id of ['r2v-vidu-q1', 'i2v-kling-o1-references']) {
      const r = rules(id);
      expect(r.image_url).toEqual({ kind: 'image', shape: 'one', verdict: 'accept' });
      expect(r.image_urls).toMatchObject({ kind: 'image', shape: 'many', verdict: 'warn' });
      expect((r.image_urls as { reason: string }).reason).toContain(`whether ${id} reads image_urls`);
    }
  });

  it('gives capability-only families the same traps as their prefix', () => {
    expect(rules('kling-omni', ['image-to-video']).image_urls?.verdict).toBe('refuse');
    expect(rules('gemini-vision', ['image-to-text']).image_url?.verdict).toBe('refuse');
    expect(rules('qwen-edit', ['image-to-image']).image_urls?.verdict).toBe('refuse');
  });

  it('accepts both names where FLORA measured no trap (another "<medium>-to-" capability)', () => {
    expect(rules('ltx-2', ['audio-to-video'])).toEqual({
      audio_url: { kind: 'audio', shape: 'one', verdict: 'accept' },
      audio_urls: { kind: 'audio', shape: 'many', verdict: 'accept' },
    });
  });

  it('lets the prefix decide over a capability of the same medium', () => {
    const r = rules('i2v-x', ['image-to-text']);
    expect(r.image_url?.verdict).toBe('accept');
    expect(r.image_urls?.verdict).toBe('refuse');
  });

  it('has no rules for a model that takes no media', () => {
    expect(rules('t2i-flux-2-pro', ['text-to-image'])).toEqual({});
  });
});

describe('preflight: media params', () => {
  const I2V = modelById('i2v-kling-2.5');
  const I2T = modelById('i2t-gemini-2.5-flash');
  const MEDIA: Model[] = [...CATALOG, I2V, I2T, modelById('v2v-runway-aleph')];
  const FLORA_URL = 'https://media.flora.ai/2026/05/01/abc123/mug.png';

  const i2v = (params: Record<string, unknown>) => body({ type: 'video', model: 'i2v-kling-2.5', params });
  const i2t = (params: Record<string, unknown>) => body({ type: 'text', model: 'i2t-gemini-2.5-flash', params });
  const warnings = (b: GenerateBody) => preflight(b, MEDIA);
  const only = (b: GenerateBody) => issue(b, MEDIA);

  it('accepts a media param the catalog does not list, on FLORA hosts without a warning', () => {
    expect(I2V.params.map((p) => p.name)).toEqual(['duration']);
    for (const url of [
      FLORA_URL,
      'https://ik.imagekit.io/flora/a.png',
      'https://assets.flora.ai/a.png',
      'https://flora.ai/a.png',
      'HTTPS://MEDIA.FLORA.AI/a.png',
    ]) {
      expect(warnings(i2v({ image_url: url, duration: '10' })), url).toEqual([]);
    }
    expect(warnings(i2t({ image_urls: [FLORA_URL, 'https://ik.imagekit.io/b.png'] }))).toEqual([]);
  });

  it('returns no warnings for a body without media, or without a model', () => {
    expect(preflight(body({ model: 't2i-flux-2-pro', params: { aspect_ratio: '16:9' } }), MEDIA)).toEqual([]);
    expect(preflight(body({ params: { image_url: 'mug.png' } }), MEDIA)).toEqual([]);
  });

  it('warns (does not refuse) when a URL is on a host FLORA may not fetch from, naming the fields and upload_media', () => {
    const [warning, ...rest] = warnings(i2v({ image_url: 'https://cdn.example.com/mug.png' }));
    expect(rest).toEqual([]);
    expect(warning).toBe(
      "params.image_url is not an https URL on FLORA's media hosts (media.flora.ai, ik.imagekit.io), which FLORA may fail to fetch; FLORA advises re-hosting media first: if the run fails or ignores it, upload the file with upload_media and pass the url it returns.",
    );
  });

  it.each([
    ['plain http on a FLORA host', 'http://media.flora.ai/a.png'],
    ['a look-alike host', 'https://media.flora.ai.example.com/a.png'],
    ['a host ending in flora.ai without the dot', 'https://notflora.ai/a.png'],
  ])('counts %s as outside FLORA', (_name, url) => {
    expect(warnings(i2v({ image_url: url }))).toEqual([expect.stringContaining('params.image_url is not an https URL')]);
  });

  it('groups the fields of one concern into one warning, list elements by index', () => {
    const w = warnings(i2t({ image_urls: [FLORA_URL, 'https://a.example/1.png', 'http://b.example/2.png'] }));
    expect(w).toEqual([expect.stringMatching(/^params\.image_urls\[1\], params\.image_urls\[2\] are not https URLs on/)]);
  });

  it.each([
    'http://localhost:8080/mug.png',
    'http://127.0.0.1/mug.png',
    'http://10.1.2.3/mug.png',
    'http://172.20.0.5/mug.png',
    'http://192.168.1.10/mug.png',
    'http://169.254.169.254/latest',
    'http://[::1]:3000/mug.png',
    'http://[fd00::1]/mug.png',
    'https://printer.local/mug.png',
    'https://files.corp.internal/mug.png',
  ])('warns that %s is unreachable from FLORA', (url) => {
    expect(warnings(i2v({ image_url: url }))).toEqual([
      "params.image_url points at a local or private address FLORA's servers cannot reach: upload the file with upload_media and pass the url it returns.",
    ]);
  });

  it.each([
    'http://172.32.0.1/a.png',
    'http://11.0.0.1/a.png',
    'http://192.169.0.1/a.png',
    'https://localhost.example.com/a.png',
  ])('does not mistake the public address %s for a private one', (url) => {
    expect(warnings(i2v({ image_url: url }))).toEqual([expect.stringContaining('is not an https URL')]);
  });

  it.each([
    ['a file name', 'mug.png', '"mug.png"'],
    ['a local path', '/Users/me/mug.png', '"/Users/me/mug.png"'],
    ['a file: URL', 'file:///Users/me/mug.png', '"file:///Users/me/mug.png"'],
    ['an ftp URL', 'ftp://example.com/mug.png', '"ftp://example.com/mug.png"'],
    ['an empty string', '', '""'],
    ['a URL without a host', 'https://', '"https://"'],
    ['a URL with spaces around it', ' https://media.flora.ai/a.png', '" https://media.flora.ai/a.png"'],
    ['a number', 5, '5'],
    ['an object', { url: 'https://media.flora.ai/a.png' }, '{"url":"https://media.flora.ai/a.png"}'],
    ['a list', ['https://media.flora.ai/a.png'], '["https://media.flora.ai/a.png"]'],
  ])('refuses %s as image_url, naming the field and upload_media', (_name, value, shown) => {
    expect(only(i2v({ image_url: value }))).toEqual({
      field: 'params.image_url',
      message: `must be an http(s) URL (got ${shown}); for a local file, upload the file with upload_media and pass the url it returns`,
    });
  });

  it('cuts a long value (a data: URI) short in the message', () => {
    const data = `data:image/png;base64,${'A'.repeat(100_000)}`;
    const e = refusal(i2v({ image_url: data }), MEDIA);
    expect(e.fields?.[0]?.message).toContain('(got "data:image/png;base64,AAAA');
    expect(e.message.length).toBeLessThan(1_000);
  });

  it('checks every element of a plural, naming the index', () => {
    const e = refusal(i2t({ image_urls: [FLORA_URL, 'mug.png', 7] }), MEDIA);
    expect(e.fields?.map((f) => f.field)).toEqual(['params.image_urls[1]', 'params.image_urls[2]']);
    expect(e.fields?.[0]?.message).toContain('(got "mug.png"); for a local file, upload the file with upload_media');
  });

  it.each([
    ['a string', FLORA_URL, `must be a list of http(s) URLs (use ["${FLORA_URL}"])`],
    ['an empty list', [], 'must list at least one http(s) URL'],
    ['an object', { a: 1 }, 'must be a list of http(s) URLs (got {"a":1})'],
  ])('refuses %s as a plural', (_name, value, message) => {
    expect(only(i2t({ image_urls: value }))).toEqual({ field: 'params.image_urls', message });
  });

  it('treats null as not given (no check, no warning), as for any param', () => {
    expect(warnings(i2v({ image_url: null }))).toEqual([]);
    expect(warnings(i2t({ image_urls: null }))).toEqual([]);
  });

  it('refuses image_urls on i2v and i2i, telling to use image_url', () => {
    expect(only(i2v({ image_urls: [FLORA_URL] }))).toEqual({
      field: 'params.image_urls',
      message: 'use image_url (one URL): i2v models ignore image_urls and FLORA still bills the run (measured by FLORA)',
    });
    const i2i = body({ model: 'i2i-qwen-image-edit', params: { image_urls: [FLORA_URL] } });
    expect(issue(i2i, [modelById('i2i-qwen-image-edit')]).message).toContain(
      'use image_url (one URL): i2i models ignore image_urls',
    );
  });

  it('refuses image_url on a vision model, telling to use image_urls', () => {
    expect(only(i2t({ image_url: FLORA_URL }))).toEqual({
      field: 'params.image_url',
      message:
        'use image_urls (a list, also for one image): given image_url, vision models answer without seeing the image and FLORA still bills the run (measured by FLORA)',
    });
  });

  it('refuses video_url on a video-to-video model with the explanation', () => {
    const f = only(body({ type: 'video', model: 'v2v-runway-aleph', params: { video_url: 'https://media.flora.ai/a.mp4' } }));
    expect(f.field).toBe('params.video_url');
    expect(f.message).toContain('video-to-video models ignore video_url and bill the run as text-to-video');
  });

  it('warns about image_urls on a multi-reference model, and still checks its URLs', () => {
    const r2v = m('r2v-vidu-q1', 'video');
    expect(preflight(body({ type: 'video', model: 'r2v-vidu-q1', params: { image_urls: [FLORA_URL] } }), [r2v])).toEqual([
      'params.image_urls: FLORA has not documented whether r2v-vidu-q1 reads image_urls; only one image_url is known to be honoured. Check the result, or pass one image_url.',
    ]);
    expect(issue(body({ type: 'video', model: 'r2v-vidu-q1', params: { image_urls: ['a.png'] } }), [r2v]).field).toBe(
      'params.image_urls[0]',
    );
  });

  it('refuses a medium the model does not take as unknown, naming the names it does accept', () => {
    expect(only(i2v({ video_url: FLORA_URL }))).toEqual({
      field: 'params.video_url',
      message:
        'unknown parameter; i2v-kling-2.5 accepts duration, image_url. It takes no input video (video_url/video_urls): pick a model whose list_models entry has inputs ["video"]',
    });
  });

  it('still refuses media params on a model that takes no media as unknown', () => {
    expect(only(body({ model: 't2i-flux-2-pro', params: { image_url: FLORA_URL } }))).toEqual({
      field: 'params.image_url',
      message:
        'unknown parameter; t2i-flux-2-pro accepts aspect_ratio, seed, guidance, raw, styles, negative. It takes no input image (image_url/image_urls): pick a model whose list_models entry has inputs ["image"]',
    });
    expect(only(body({ type: 'audio', model: 't2a-eleven-sfx', params: { audio_url: FLORA_URL } })).message).toBe(
      't2a-eleven-sfx takes no params. It takes no input audio (audio_url/audio_urls): pick a model whose list_models entry has inputs ["audio"]',
    );
  });

  it('keeps a listed media param to the catalog spec, then checks its URL', () => {
    // t2v-kling-2 in CATALOG lists image_url as a required string, though its prefix says nothing.
    expect(only(video({ image_url: 5 }))).toEqual({ field: 'params.image_url', message: 'must be a string (got 5)' });
    expect(only(video({ image_url: 'mug.png' })).message).toContain('must be an http(s) URL (got "mug.png")');
    expect(preflight(video({ image_url: FLORA_URL }), CATALOG)).toEqual([]);
    expect(preflight(video({ image_url: 'https://x.example/a.png' }), CATALOG)).toHaveLength(1);
  });

  it('trusts the catalog over a measured trap: a listed image_urls on an i2v model is accepted', () => {
    const listed = { ...I2V, params: [...I2V.params, { name: 'image_urls', type: 'string[]', required: false }] };
    expect(preflight(i2v({ image_urls: [FLORA_URL] }), [listed])).toEqual([]);
    expect(issue(i2v({ image_urls: [FLORA_URL, 'b.png'] }), [listed]).field).toBe('params.image_urls[1]');
  });

  it('reports media problems in param order, among the others', () => {
    const e = refusal(i2v({ duration: '7', image_urls: [FLORA_URL], steps: 1 }), MEDIA);
    expect(e.fields?.map((f) => f.field)).toEqual(['params.duration', 'params.image_urls', 'params.steps']);
    expect(e.fields?.[2]?.message).toBe('unknown parameter; i2v-kling-2.5 accepts duration, image_url');
  });
});

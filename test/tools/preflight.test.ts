/**
 * start_generation_run's pre-flight checks through the real SDK client: a start FLORA would
 * reject or silently bill wrongly is refused before POST /generate, with an error naming what
 * is valid; the model catalog behind the checks is fetched once and shared; when it cannot be
 * had the start goes ahead unchecked. Media params (image_url …) that the catalog does not list
 * pass for models that take media, as URLs, with FLORA's measured traps refused and hosts FLORA
 * may not fetch from warned about. Also FLORA_WORKSPACE_ID / FLORA_PROJECT_ID as defaults.
 */
import { describe, expect, it } from 'vitest';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { ErrorPayload } from '../../src/errors.js';
import { type FakeFlora, faults, floraError, MODELS, type FakeModel } from '../helpers/fake-flora.js';
import { failure, success, useConnections, VALID_CALLS, VALID_START, type Connected } from '../helpers/harness.js';

let fake: FakeFlora;

const { open } = useConnections((f) => (fake = f));

async function start(args: Record<string, unknown>, conn?: Connected): Promise<CallToolResult> {
  return (conn ?? (await open())).call('start_generation_run', args);
}

function posts(): number {
  return fake.requestsTo('POST', '/generate').length;
}

function modelFetches(): number {
  return fake.requestsTo('GET', '/models').length;
}

/** The calls FLORA received, in order, as "METHOD /path". */
function sequence(): string[] {
  return fake.requests.map((r) => `${r.method} ${r.path}`);
}

/** A pre-flight refusal: nothing was sent to POST /generate, nothing was billed. */
function refused(result: CallToolResult, field: string): ErrorPayload {
  const error = failure(result);
  expect(error.code).toBe('input_validation_error');
  expect(error.retryable).toBe(false);
  expect(error.status).toBeUndefined();
  expect(error.fields?.map((f) => f.field)).toEqual([field]);
  expect(error.message).toContain('nothing was sent to FLORA');
  expect(error.message).toContain('nothing was billed');
  expect(posts()).toBe(0);
  expect(fake.runs.size).toBe(0);
  expect(sequence()).toEqual(['GET /models']);
  return error;
}

function model(id: string, type: FakeModel['type'], params: FakeModel['params'] = []): FakeModel {
  return {
    model_id: id,
    name: id,
    type,
    provider: 'test',
    capabilities: [],
    estimated_credits: 10,
    estimated_seconds: 5,
    params,
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('pre-flight refusals: nothing reaches POST /generate', () => {
  it('an unknown model lists the image models closest first, and no video model', async () => {
    // More image models, listed before the close one, so the order must come from the distance.
    fake.models = [model('t2i-sdxl-turbo', 'image'), model('t2i-flux-1-dev', 'image'), ...MODELS];
    const error = refused(await start({ ...VALID_START, model: 't2i-flux-2-por' }), 'model');

    expect(error.message).toContain('Unknown model "t2i-flux-2-por"');
    expect(error.message).toContain('image models, closest first: t2i-flux-2-pro, t2i-flux-1-dev, t2i-sdxl-turbo');
    expect(error.message).not.toContain('t2v-kling-2');
    expect(error.message).not.toContain('t2a-eleven-sfx');
    expect(error.fields?.[0]?.message).toContain('t2i-flux-2-pro');
  });

  it('a video model asked for an image says the model makes video', async () => {
    const error = refused(await start({ ...VALID_START, type: 'image', model: 't2v-kling-2' }), 'model');

    expect(error.message).toContain('Model "t2v-kling-2" makes video, not image');
    expect(error.message).toContain('image models, closest first: t2i-flux-2-pro');
  });

  it('an unknown param name lists the names the model accepts', async () => {
    const error = refused(
      await start({ ...VALID_START, model: 't2i-flux-2-pro', params: { aspect_ratio: '16:9', steps: 30 } }),
      'params.steps',
    );

    expect(error.fields?.[0]?.message).toBe('unknown parameter; t2i-flux-2-pro accepts aspect_ratio, seed');
    expect(error.message).toContain('t2i-flux-2-pro accepts aspect_ratio, seed');
  });

  it('a value outside the options lists the allowed values', async () => {
    const error = refused(
      await start({ ...VALID_START, model: 't2i-flux-2-pro', params: { aspect_ratio: '4:3' } }),
      'params.aspect_ratio',
    );

    expect(error.fields?.[0]?.message).toBe('must be one of "1:1", "16:9" (got "4:3")');
    expect(error.message).toContain('"1:1", "16:9"');
  });

  it.each([
    [3, 'must be at least 5 (got 3)'],
    [11, 'must be at most 10 (got 11)'],
  ])("duration %i is outside t2v-kling-2's 5-10", async (duration, message) => {
    const error = refused(
      await start({ ...VALID_START, type: 'video', model: 't2v-kling-2', params: { duration } }),
      'params.duration',
    );

    expect(error.fields?.[0]?.message).toBe(message);
    expect(error.message).toContain(message);
  });

  it.each([
    ['duration', 7.5, 'video', 't2v-kling-2'],
    ['duration', '7', 'video', 't2v-kling-2'],
    ['seed', 1.5, 'image', 't2i-flux-2-pro'],
  ])('a non-integer %s (%j) is refused', async (name, value, type, modelId) => {
    const error = refused(await start({ ...VALID_START, type, model: modelId, params: { [name]: value } }), `params.${name}`);

    expect(error.fields?.[0]?.message).toBe(`must be an integer (got ${JSON.stringify(value)})`);
  });

  it('a required param without a default that is missing is named', async () => {
    fake.models = [
      ...MODELS,
      model('i2v-runway', 'video', [
        { name: 'image_url', type: 'string', required: true },
        { name: 'duration', type: 'int', required: true, default: 5 },
      ]),
    ];
    const error = refused(
      await start({ ...VALID_START, type: 'video', model: 'i2v-runway', params: { duration: 5 } }),
      'params.image_url',
    );

    expect(error.fields?.[0]?.message).toBe('required by this model');
    expect(error.message).toContain('i2v-runway');
  });
});

describe('pre-flight: a valid start goes through', () => {
  it('valid model and params: one GET /models, then one POST /generate with the body unchanged', async () => {
    const args = {
      ...VALID_START,
      model: 't2i-flux-2-pro',
      params: { aspect_ratio: '16:9', seed: 7 },
    };
    const out = success(await start(args));

    expect(sequence()).toEqual(['GET /models', 'POST /generate']);
    expect(fake.requests[0]!.query).toEqual({});
    expect(fake.requests[1]!.body).toStrictEqual(args);
    expect(fake.runs.has(out.run_id as string)).toBe(true);
  });

  it('a required param given, a nullable int given null and a video model with its own type all pass', async () => {
    fake.models = [
      ...MODELS,
      model('i2v-runway', 'video', [
        { name: 'image_url', type: 'string', required: true },
        { name: 'seed', type: 'int?', required: false },
      ]),
    ];
    const args = {
      ...VALID_START,
      type: 'video',
      model: 'i2v-runway',
      params: { image_url: 'https://x.example/a.png', seed: null },
    };
    success(await start(args));

    expect(posts()).toBe(1);
    expect(fake.requestsTo('POST', '/generate')[0]!.body).toStrictEqual(args);
  });

  it('a start without model sends no GET /models at all', async () => {
    success(await start({ ...VALID_START, params: { anything: 'goes' } }));

    expect(sequence()).toEqual(['POST /generate']);
  });
});

describe('media params: accepted where the model takes media, even when the catalog does not list them', () => {
  const FLORA_URL = 'https://media.flora.ai/2026/05/01/a1b2c3/mug.png';
  const i2v = (params: Record<string, unknown>) => ({ ...VALID_START, type: 'video', model: 'i2v-kling-2.5', params });
  const i2t = (params: Record<string, unknown>) => ({ ...VALID_START, type: 'text', model: 'i2t-gemini-2.5-flash', params });

  it('image_url on an i2v model whose catalog entry lacks it reaches FLORA unchanged; a FLORA host gets no warning', async () => {
    const catalogEntry = fake.models.find((m) => m.model_id === 'i2v-kling-2.5');
    expect(catalogEntry?.params.map((p) => p.name)).toEqual(['duration']);
    const args = i2v({ image_url: FLORA_URL, duration: '10' });
    const out = success(await start(args));

    expect(sequence()).toEqual(['GET /models', 'POST /generate']);
    expect(fake.requests[1]!.body).toStrictEqual(args);
    expect(out).not.toHaveProperty('warnings');
    expect(out.summary).toBe(
      `Started run ${out.run_id as string} (quoted US$0.327; FLORA settles the final charge later). Next: poll_run with this run_id and wait_seconds up to 50.`,
    );
  });

  it('"mug.png" as image_url is refused naming params.image_url and pointing at upload_media', async () => {
    const error = refused(await start(i2v({ image_url: 'mug.png' })), 'params.image_url');

    expect(error.fields?.[0]?.message).toBe(
      'must be an http(s) URL (got "mug.png"); for a local file, upload the file with upload_media and pass the url it returns',
    );
    expect(error.message).toContain('params do not fit model i2v-kling-2.5: params.image_url: must be an http(s) URL');
  });

  it.each([
    ['i2v-kling-2.5', 'video', 'i2v'],
    ['i2i-qwen-image-edit', 'image', 'i2i'],
  ])('image_urls on %s is refused: FLORA would ignore it and bill the run', async (model, type, family) => {
    const error = refused(await start({ ...VALID_START, type, model, params: { image_urls: [FLORA_URL] } }), 'params.image_urls');

    expect(error.fields?.[0]?.message).toBe(
      `use image_url (one URL): ${family} models ignore image_urls and FLORA still bills the run (measured by FLORA)`,
    );
  });

  it('image_url on a vision (i2t) model is refused: it would answer blind', async () => {
    const error = refused(await start(i2t({ image_url: FLORA_URL })), 'params.image_url');

    expect(error.fields?.[0]?.message).toBe(
      'use image_urls (a list, also for one image): given image_url, vision models answer without seeing the image and FLORA still bills the run (measured by FLORA)',
    );
  });

  it('image_urls on a vision (i2t) model goes through, the list unchanged', async () => {
    const args = i2t({ image_urls: [FLORA_URL, 'https://ik.imagekit.io/flora/b.png'] });
    const out = success(await start(args));

    expect(posts()).toBe(1);
    expect(fake.requestsTo('POST', '/generate')[0]!.body).toStrictEqual(args);
    expect(out).not.toHaveProperty('warnings');
  });

  it('video_url on a video-to-video model is refused, explaining it would be billed as text-to-video', async () => {
    const error = refused(
      await start({
        ...VALID_START,
        type: 'video',
        model: 'v2v-runway-aleph',
        params: { video_url: 'https://media.flora.ai/a.mp4' },
      }),
      'params.video_url',
    );

    expect(error.fields?.[0]?.message).toContain(
      'FLORA measured that video-to-video models ignore video_url and bill the run as text-to-video',
    );
    expect(error.message).toContain('canvas edge');
  });

  it('a URL on another host is sent, with a warning in the result and a sentence in the summary', async () => {
    const args = i2v({ image_url: 'https://cdn.example.com/mug.png' });
    const out = success(await start(args));

    expect(posts()).toBe(1);
    expect(fake.requestsTo('POST', '/generate')[0]!.body).toStrictEqual(args);
    expect(out.warnings).toEqual([
      "params.image_url is not an https URL on FLORA's media hosts (media.flora.ai, ik.imagekit.io), which FLORA may fail to fetch; FLORA advises re-hosting media first: if the run fails or ignores it, upload the file with upload_media and pass the url it returns.",
    ]);
    expect(out.summary).toBe(
      `Started run ${out.run_id as string} (quoted US$0.327; FLORA settles the final charge later). Read warnings: the run may not use its input media as given. Next: poll_run with this run_id and wait_seconds up to 50.`,
    );
  });

  it('the warning stays in the result when the call also waits for the run', async () => {
    const out = success(await start({ ...i2v({ image_url: 'http://localhost:8080/mug.png' }), wait_seconds: 5 }), 1);

    expect((out.run as { status: string }).status).toBe('completed');
    expect(out.warnings).toEqual([expect.stringContaining('params.image_url points at a local or private address')]);
    expect(out.summary).toContain('Read warnings');
  });

  it.each([
    ['t2i-flux-2-pro', 'image', 'image_url', 'image'],
    ['t2v-kling-2', 'video', 'video_url', 'video'],
  ])('%s (no media input) still refuses %s as an unknown param', async (model, type, name, kind) => {
    const error = refused(await start({ ...VALID_START, type, model, params: { [name]: FLORA_URL } }), `params.${name}`);

    expect(error.fields?.[0]?.message).toMatch(new RegExp(`^unknown parameter; ${model} accepts `));
    expect(error.fields?.[0]?.message).toContain(`It takes no input ${kind}`);
  });
});

describe('the model catalog is fetched once and shared', () => {
  it('two sequential starts with a model make one GET /models in total', async () => {
    const conn = await open();
    success(await start({ ...VALID_START, model: 't2i-flux-2-pro' }, conn));
    success(await start({ ...VALID_START, type: 'video', model: 't2v-kling-2', params: { duration: 10 } }, conn));

    expect(sequence()).toEqual(['GET /models', 'POST /generate', 'POST /generate']);
    expect(fake.runs.size).toBe(2);
  });

  it('a refusal and a later start share the catalog too', async () => {
    const conn = await open();
    failure(await start({ ...VALID_START, model: 't2i-flux-2-por' }, conn));
    success(await start({ ...VALID_START, model: 't2i-flux-2-pro' }, conn));

    expect(sequence()).toEqual(['GET /models', 'POST /generate']);
  });

  it('three concurrent starts on a fresh connection share one GET /models', async () => {
    // Slow the catalog down so all three starts are waiting for it at the same time.
    fake.route('GET /models', async (_req, _res, ctx) => {
      await delay(150);
      return ctx.defaultReply();
    });
    const conn = await open({ env: {} });
    const results = await Promise.all([
      start({ ...VALID_START, model: 't2i-flux-2-pro' }, conn),
      start({ ...VALID_START, model: 't2i-flux-2-pro', params: { seed: 1 } }, conn),
      start({ ...VALID_START, type: 'video', model: 't2v-kling-2' }, conn),
    ]);

    const runIds = results.map((r) => success(r).run_id);
    expect(new Set(runIds).size).toBe(3);
    expect(modelFetches()).toBe(1);
    expect(posts()).toBe(3);
  });

  it('three concurrent starts still each get their own refusal or run from the one shared catalog', async () => {
    fake.route('GET /models', async (_req, _res, ctx) => {
      await delay(150);
      return ctx.defaultReply();
    });
    const conn = await open({ env: {} });
    const [bad, good, wrongType] = await Promise.all([
      start({ ...VALID_START, model: 't2i-flux-2-pro', params: { aspect_ratio: '4:3' } }, conn),
      start({ ...VALID_START, model: 't2i-flux-2-pro' }, conn),
      start({ ...VALID_START, model: 't2v-kling-2' }, conn),
    ]);

    expect(failure(bad!).fields?.map((f) => f.field)).toEqual(['params.aspect_ratio']);
    expect(success(good!).run_id).toMatch(/^run_/);
    expect(failure(wrongType!).fields?.map((f) => f.field)).toEqual(['model']);
    expect(modelFetches()).toBe(1);
    expect(posts()).toBe(1);
  });
});

describe('an unreachable catalog never blocks a start', () => {
  it.each([
    ['answers 500', () => floraError(500, 'internal_error', 'Catalog down.')],
    ['resets the connection', faults.reset],
  ] as const)('when GET /models %s, the start is sent unchecked and the run is created', async (_name, handler) => {
    fake.route('GET /models', handler);
    const conn = await open();
    const out = success(await start({ ...VALID_START, model: 't2i-flux-2-pro', params: { aspect_ratio: '16:9' } }, conn));

    expect(posts()).toBe(1);
    expect(fake.runs.has(out.run_id as string)).toBe(true);
    // The lookup is not retried: the start is not held up.
    expect(modelFetches()).toBe(1);

    // Right after a failure the catalog is not asked again: the next start goes straight through.
    success(await start({ ...VALID_START, model: 't2i-flux-2-pro' }, conn));
    expect(modelFetches()).toBe(1);
    expect(posts()).toBe(2);
  });

  it('when GET /models never answers, the start still completes (the lookup is capped: 5 s by default, 300 ms here)', async () => {
    fake.route('GET /models', faults.hang);
    // FLORA_TIMEOUT_MS (30 s by default) would outlast the test: only the lookup's cap lets the start through.
    const conn = await open({ lookupTimeoutMs: 300 });
    const out = success(await start({ ...VALID_START, model: 't2i-flux-2-pro' }, conn));

    expect(modelFetches()).toBe(1);
    expect(posts()).toBe(1);
    expect(fake.runs.has(out.run_id as string)).toBe(true);
  });
});

describe('FLORA_WORKSPACE_ID and FLORA_PROJECT_ID as defaults', () => {
  const DEFAULTS = { FLORA_WORKSPACE_ID: 'ws_client', FLORA_PROJECT_ID: 'prj_c01' };

  async function startTool(conn: Connected): Promise<Tool> {
    const tool = (await conn.client.listTools()).tools.find((t) => t.name === 'start_generation_run');
    if (!tool) throw new Error('start_generation_run not listed');
    return tool;
  }

  function published(tool: Tool, name: string): { default?: unknown; description?: string } | undefined {
    return (tool.inputSchema.properties as Record<string, { default?: unknown; description?: string }>)[name];
  }

  it('without defaults the schema requires project_id and workspace_id', async () => {
    const tool = await startTool(await open());
    expect([...(tool.inputSchema.required ?? [])].sort()).toEqual(['project_id', 'prompt', 'type', 'workspace_id']);
  });

  it('with both set, the schema requires only prompt and type and publishes the defaults', async () => {
    const tool = await startTool(await open({ env: DEFAULTS }));

    expect([...(tool.inputSchema.required ?? [])].sort()).toEqual(['prompt', 'type']);
    expect(published(tool, 'workspace_id')?.default).toBe('ws_client');
    expect(published(tool, 'project_id')?.default).toBe('prj_c01');
    // Still described for the model: where the ID comes from.
    expect(published(tool, 'workspace_id')?.description).toContain('list_workspaces');
    expect(published(tool, 'project_id')?.description).toContain('list_projects');
  });

  it('a call with only prompt and type sends the default workspace and project', async () => {
    const conn = await open({ env: DEFAULTS });
    const out = success(await start({ prompt: 'a mug', type: 'image' }, conn));

    const [req] = fake.requestsTo('POST', '/generate');
    expect(posts()).toBe(1);
    expect(req!.body).toStrictEqual({ workspace_id: 'ws_client', project_id: 'prj_c01', prompt: 'a mug', type: 'image' });
    expect(out.project_id).toBe('prj_c01');
  });

  it('explicit arguments override the defaults', async () => {
    const conn = await open({ env: DEFAULTS });
    success(await start({ ...VALID_START }, conn));
    success(await start({ prompt: 'only the project', type: 'image', project_id: 'prj_other' }, conn));

    const [first, second] = fake.requestsTo('POST', '/generate');
    expect(first!.body).toStrictEqual({ ...VALID_START });
    expect(second!.body).toStrictEqual({
      workspace_id: 'ws_client',
      project_id: 'prj_other',
      prompt: 'only the project',
      type: 'image',
    });
  });

  it('an invalid FLORA_PROJECT_ID makes every call return configuration_error naming it, with nothing sent', async () => {
    const conn = await open({ env: { FLORA_PROJECT_ID: 'proj_1' } });
    for (const [name, args] of VALID_CALLS) {
      const error = failure(await conn.call(name, args));
      expect(error.code, name).toBe('configuration_error');
      expect(error.retryable, name).toBe(false);
      expect(error.message, name).toContain('FLORA_PROJECT_ID');
      expect(error.message, name).toContain('prj_');
    }
    expect(fake.requests).toHaveLength(0);
  });
});

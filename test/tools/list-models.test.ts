/**
 * list_models through the real SDK client: the GET /api/v1/models request FLORA receives (with or
 * without ?type=; `detail` is never sent) and what the agent gets back: by default a compact view
 * of each model (param names only), with detail: true FLORA's full model objects, param specs
 * included.
 */
import { describe, expect, it } from 'vitest';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import {
  compactModel,
  FAKE_KEY,
  type FakeFlora,
  modelById,
  MODELS,
  type FakeModel,
  type RecordedRequest,
} from '../helpers/fake-flora.js';
import { failure, success, useConnections } from '../helpers/harness.js';

let fake: FakeFlora;

const { open } = useConnections((f) => (fake = f));

/** Connect and list tools first, as MCP hosts do, so the SDK client validates structuredContent. */
async function list(args?: Record<string, unknown>): Promise<CallToolResult> {
  return (await open()).call('list_models', args);
}

function expectModelsRequest(req: RecordedRequest, query: Record<string, string>): void {
  expect(req.method).toBe('GET');
  expect(req.rawPath).toBe('/api/v1/models');
  expect(req.query).toEqual(query);
  expect(req.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
  expect(req.headers.accept).toBe('application/json');
  expect(req.headers).not.toHaveProperty('idempotency-key');
  expect(req.rawBody).toBe('');
}

const FLUX = modelById('t2i-flux-2-pro');
const KLING = modelById('t2v-kling-2');

/**
 * What FLORA sent for `model` less capabilities and params: the fields the compact view passes on
 * as they are. The tests add params (as names) and beta themselves, apart from compactModel.
 */
function keptFields(model: FakeModel): Omit<FakeModel, 'capabilities' | 'params'> {
  const { capabilities: _capabilities, params: _params, ...kept } = model;
  return kept;
}

describe('list_models', () => {
  it('without type sends GET /api/v1/models with no query and returns every model in the compact view', async () => {
    const out = success(await list());

    expect(fake.requests).toHaveLength(1);
    expectModelsRequest(fake.requests[0]!, {});
    expect(out).toEqual({ models: MODELS.map(compactModel) });
    const models = out.models as Array<Record<string, unknown>>;
    expect(models.map((m) => m.model_id)).toEqual(MODELS.map((m) => m.model_id));
    const flux = models.find((m) => m.model_id === FLUX.model_id);
    expect(flux).toEqual({ ...keptFields(FLUX), params: ['aspect_ratio', 'seed'] });
    // Exactly these keys: no capabilities, no param specs, no beta FLORA did not send.
    expect(Object.keys(flux!).sort()).toEqual(
      ['estimated_credits', 'estimated_seconds', 'model_id', 'name', 'params', 'provider', 'type'].sort(),
    );
  });

  it("with detail: true returns FLORA's full model objects, param specs included, and does not send detail", async () => {
    const out = success(await list({ detail: true }));

    expect(fake.requests).toHaveLength(1);
    expectModelsRequest(fake.requests[0]!, {});
    expect(out).toEqual({ models: MODELS });
    const flux = (out.models as Array<Record<string, unknown>>).find((m) => m.model_id === FLUX.model_id);
    expect(flux?.params).toEqual(FLUX.params);
  });

  it('with detail: false returns the compact view, as without detail', async () => {
    const out = success(await list({ detail: false }));

    expect(fake.requests).toHaveLength(1);
    expectModelsRequest(fake.requests[0]!, {});
    expect(out).toEqual({ models: MODELS.map(compactModel) });
  });

  it('with type video sends ?type=video and returns only the video models, compact, beta kept', async () => {
    const out = success(await list({ type: 'video' }));

    expect(fake.requests).toHaveLength(1);
    expectModelsRequest(fake.requests[0]!, { type: 'video' });
    expect(out).toEqual({ models: MODELS.filter((m) => m.type === 'video').map(compactModel) });
    const models = out.models as Array<Record<string, unknown>>;
    expect(models.map((m) => m.type)).toEqual(['video', 'video', 'video']);
    expect(models[0]).toEqual({ ...keptFields(KLING), beta: true, params: ['duration'] });
  });

  it('with type video and detail: true sends only ?type=video and returns the video models, params included', async () => {
    const out = success(await list({ type: 'video', detail: true }));

    expect(fake.requests).toHaveLength(1);
    expectModelsRequest(fake.requests[0]!, { type: 'video' });
    expect(out).toEqual({ models: MODELS.filter((m) => m.type === 'video') });
    expect((out.models as Array<Record<string, unknown>>)[0]).toEqual(KLING);
  });

  it.each(['image', 'audio', 'text'] as const)(
    'with type %s sends that filter and returns those models, compact',
    async (type) => {
      const out = success(await list({ type }));
      expectModelsRequest(fake.requests[0]!, { type });
      expect(fake.requests).toHaveLength(1);
      expect(out).toEqual({ models: MODELS.filter((m) => m.type === type).map(compactModel) });
    },
  );

  it.each(['image', 'audio', 'text'] as const)('with type %s and detail: true returns those models in full', async (type) => {
    const out = success(await list({ type, detail: true }));
    expectModelsRequest(fake.requests[0]!, { type });
    expect(fake.requests).toHaveLength(1);
    expect(out).toEqual({ models: MODELS.filter((m) => m.type === type) });
  });

  it('keeps beta only when FLORA sent it, false included', async () => {
    const sfx = modelById('t2a-eleven-sfx');
    const claude = modelById('llm-claude');
    fake.models = [{ ...sfx, beta: false }, { ...claude }];
    const out = success(await list());
    expect(out).toEqual({
      models: [
        { ...keptFields(sfx), beta: false, params: [] },
        { ...keptFields(claude), params: [] },
      ],
    });
    expect((out.models as Array<Record<string, unknown>>)[1]).not.toHaveProperty('beta');
  });

  it('shows the media a model takes as inputs, for models whose catalog entry lists no media param', async () => {
    const out = success(await list());
    const byId = new Map((out.models as Array<Record<string, unknown>>).map((m) => [m.model_id, m]));

    const i2v = modelById('i2v-kling-2.5');
    expect(i2v.params.map((p) => p.name)).not.toContain('image_url');
    expect(byId.get('i2v-kling-2.5')).toEqual({ ...keptFields(i2v), inputs: ['image'], params: ['duration'] });
    expect(byId.get('i2i-qwen-image-edit')?.inputs).toEqual(['image']);
    expect(byId.get('i2t-gemini-2.5-flash')?.inputs).toEqual(['image']);
    expect(byId.get('v2v-runway-aleph')?.inputs).toEqual(['video']);
    // No inputs key at all for a model that takes no media: the compact view stays short.
    for (const id of ['t2i-flux-2-pro', 't2v-kling-2', 't2a-eleven-sfx', 'llm-claude']) {
      expect(byId.get(id), id).not.toHaveProperty('inputs');
    }
  });

  it('reads inputs from capabilities when the ID prefix says nothing', async () => {
    const base = keptFields(KLING);
    fake.models = [
      { ...KLING, model_id: 'kling-3-omni', capabilities: ['text-to-video', 'Image-to-Video'] },
      { ...KLING, model_id: 'ltx-2', capabilities: ['text-to-video', 'audio-to-video'] },
      { ...KLING, model_id: 'veo-3', capabilities: ['text-to-video'] },
    ];
    const models = success(await list()).models as Array<Record<string, unknown>>;

    expect(models).toEqual([
      { ...base, model_id: 'kling-3-omni', inputs: ['image'], params: ['duration'] },
      { ...base, model_id: 'ltx-2', inputs: ['audio'], params: ['duration'] },
      { ...base, model_id: 'veo-3', params: ['duration'] },
    ]);
  });

  it('returns an empty list as a normal result', async () => {
    fake.models = [];
    const out = success(await list({ type: 'audio' }));
    expect(out).toEqual({ models: [] });
    expectModelsRequest(fake.requests[0]!, { type: 'audio' });
  });

  it.each([
    ['an unknown type', { type: 'images' }, 'type'],
    ['a type that is not a string', { type: 3 }, 'type'],
    ['an unknown argument', { provider: 'bfl' }, 'provider'],
    ['a detail that is not a boolean', { detail: 'yes' }, 'detail'],
  ])('refuses %s with invalid_arguments and sends nothing', async (_label, args, field) => {
    const error = failure(await list(args));
    expect(error.code).toBe('invalid_arguments');
    expect(error.retryable).toBe(false);
    expect(error.fields?.map((f) => f.field)).toContain(field);
    expect(error.message).toContain('nothing was sent to FLORA');
    expect(fake.requests).toHaveLength(0);
  });

  it('reports a key FLORA rejects as invalid_api_key, pointing at FLORA_API_KEY', async () => {
    fake.apiKey = 'sk_live_some_other_key';
    const error = failure(await list());
    expect(error).toMatchObject({ code: 'invalid_api_key', status: 401, retryable: false });
    expect(error.message).toContain('FLORA_API_KEY');
    expect(fake.requests).toHaveLength(1);
    expectModelsRequest(fake.requests[0]!, {});
  });
});

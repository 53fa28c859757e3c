/**
 * list_techniques and run_technique through the real SDK client: what FLORA receives (the
 * technique's definition first, then exactly one start on the route that can carry the run) and
 * what the agent gets, and every pre-flight check refusing a run before anything is sent.
 */
import { describe, expect, it } from 'vitest';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { type FakeFlora, faults, type RecordedRequest } from '../helpers/fake-flora.js';
import { TECHNIQUES, techniqueById } from '../helpers/fake-techniques.js';
import { failure, success, useConnections, VALID_TECHNIQUE_RUN } from '../helpers/harness.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MUG = 'https://media.flora.ai/uploads/mug.png';

let fake: FakeFlora;

const { open } = useConnections((f) => (fake = f));

async function run(args: Record<string, unknown>): Promise<CallToolResult> {
  return (await open()).call('run_technique', args);
}

function posts(): RecordedRequest[] {
  return fake.requests.filter((r) => r.method === 'POST');
}

/** A refusal by this server: exactly the definition lookup went out, no start, no run. */
function expectRefusedAfterLookup(techniqueId: string): void {
  expect(fake.requests.map((r) => `${r.method} ${r.rawPath}`)).toEqual([`GET /api/v1/techniques/${techniqueId}`]);
  expect(fake.runs.size).toBe(0);
}

describe('list_techniques', () => {
  it('lists compact techniques: id, name, a short description, run_cost in USD, each input with id, name, type, optional', async () => {
    const out = success(await (await open()).call('list_techniques', {}));

    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toMatchObject({ method: 'GET', rawPath: '/api/v1/techniques', query: { limit: '20' } });
    // Written out by hand: the oracle for one technique's compact view.
    const productShot = {
      technique_id: 'tech_product-shot',
      name: 'Product shot',
      description:
        'Places a product photo in a styled studio scene with soft shadows and a matching backdrop, ready for a storefront. Works best with a clean cut-out of the...',
      run_cost: 0.05,
      inputs: [
        { id: 'product', name: 'Product photo', type: 'imageUrl', optional: false },
        { id: 'scene', name: 'Scene', type: 'text', optional: true },
        { id: 'style_ref', name: 'Style reference', type: 'imageUrl', optional: true },
      ],
    };
    const techniques = out.techniques as Array<Record<string, unknown>>;
    expect(techniques[0]).toStrictEqual(productShot);
    expect((techniques[0]!.description as string).length).toBeLessThanOrEqual(160);
    expect(techniques.map((t) => t.technique_id)).toEqual(
      TECHNIQUES.filter((t) => t.only_in === undefined).map((t) => t.technique_id),
    );
    expect(techniques[2]).toMatchObject({ technique_id: 'tech_podcast-cover', run_cost: 0.12 });
    expect(out.next_cursor).toBeNull();
  });

  it('passes query, limit and cursor through and hands back next_cursor', async () => {
    const c = await open();
    const first = success(await c.call('list_techniques', { limit: 2 }));
    const second = success(await c.call('list_techniques', { limit: 2, cursor: first.next_cursor }));
    const found = success(await c.call('list_techniques', { query: 'COVER' }));

    expect(fake.requests.map((r) => r.query)).toEqual([
      { limit: '2' },
      { limit: '2', cursor: first.next_cursor },
      { query: 'COVER', limit: '20' },
    ]);
    const ids = (o: Record<string, unknown>) => (o.techniques as Array<{ technique_id: string }>).map((t) => t.technique_id);
    expect(ids(first)).toEqual(['tech_product-shot', 'tech_video-restyle']);
    expect(first.next_cursor).toEqual(expect.any(String));
    expect(ids(second)).toEqual(['tech_podcast-cover', 'tech_art-directors-critique']);
    expect(ids(found)).toEqual(['tech_podcast-cover']);
  });

  it('filters by workspace_id, which FLORA_WORKSPACE_ID fills in when set', async () => {
    const c = await open({ env: { FLORA_WORKSPACE_ID: 'ws_client' } });
    const out = success(await c.call('list_techniques', { query: 'moodboard' }));

    expect(fake.requests[0]!.query).toEqual({ workspace_id: 'ws_client', query: 'moodboard', limit: '20' });
    expect(out.techniques).toMatchObject([{ technique_id: 'tech_client-moodboard' }]);
  });

  it('refuses a workspace_id without ws_ and sends nothing', async () => {
    const error = failure(await (await open()).call('list_techniques', { workspace_id: 'studio' }));
    expect(error.code).toBe('invalid_arguments');
    expect(error.fields?.map((f) => f.field)).toEqual(['workspace_id']);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('run_technique: pre-flight against the definition, nothing sent when a check fails', () => {
  it('refuses an unknown input ID, naming the declared IDs closest first', async () => {
    const error = failure(await run({ ...VALID_TECHNIQUE_RUN, inputs: { product: MUG, sytle: 'moody' } }));

    expect(error).toMatchObject({ code: 'input_validation_error', retryable: false });
    expect(error.fields).toEqual([
      {
        field: 'inputs.sytle',
        message: 'not an input of tech_product-shot; its inputs are scene, style_ref, product (closest first)',
      },
    ]);
    expect(error.message).toContain('nothing was sent to FLORA and nothing was billed');
    expect(error).not.toHaveProperty('status');
    expectRefusedAfterLookup('tech_product-shot');
  });

  it('refuses a missing required input, naming it', async () => {
    const error = failure(await run({ ...VALID_TECHNIQUE_RUN, inputs: { scene: 'on a kitchen counter' } }));

    expect(error.code).toBe('input_validation_error');
    expect(error.fields).toEqual([{ field: 'inputs.product', message: 'required imageUrl input "Product photo" is missing' }]);
    expectRefusedAfterLookup('tech_product-shot');
  });

  it('refuses a required input given as an empty string', async () => {
    const error = failure(await run({ ...VALID_TECHNIQUE_RUN, inputs: { product: '' } }));

    expect(error.fields).toEqual([
      { field: 'inputs.product', message: 'required imageUrl input "Product photo" is given empty' },
    ]);
    expectRefusedAfterLookup('tech_product-shot');
  });

  it.each([
    ['a file name', 'mug.png'],
    ['an ftp URL', 'ftp://files.example.com/mug.png'],
    ['a data: URI', 'data:image/png;base64,iVBORw0KGgo='],
  ])('refuses %s for a media input, pointing at upload_media', async (_label, value) => {
    const error = failure(await run({ ...VALID_TECHNIQUE_RUN, inputs: { product: MUG, style_ref: value } }));

    expect(error.code).toBe('input_validation_error');
    expect(error.fields?.map((f) => f.field)).toEqual(['inputs.style_ref']);
    expect(error.fields?.[0]?.message).toContain('must be an http(s) URL');
    expect(error.fields?.[0]?.message).toContain('upload_media');
    expectRefusedAfterLookup('tech_product-shot');
  });

  it('leaves out an optional input given as an empty string (FLORA rejects empty strings)', async () => {
    success(await run({ ...VALID_TECHNIQUE_RUN, inputs: { product: MUG, scene: '' } }));

    expect(posts()).toHaveLength(1);
    expect((posts()[0]!.body as { inputs: unknown }).inputs).toStrictEqual([{ id: 'product', type: 'imageUrl', value: MUG }]);
    expect(fake.runs.size).toBe(1);
  });

  it('takes an element ID for a media input that accepts elements', async () => {
    success(await run({ technique_id: 'tech_art-directors-critique', workspace_id: 'ws_studio', inputs: { image: 'el_42' } }));
    expect((posts()[0]!.body as { inputs: unknown }).inputs).toStrictEqual([{ id: 'image', type: 'imageUrl', value: 'el_42' }]);
  });

  it('answers not_found for a technique FLORA does not know, pointing at list_techniques, and starts nothing', async () => {
    const error = failure(await run({ ...VALID_TECHNIQUE_RUN, technique_id: 'tech_no-such-thing' }));

    expect(error).toMatchObject({ code: 'not_found', status: 404 });
    expect(error.message).toContain('list_techniques');
    expect(error.message).toContain('Nothing was started');
    expectRefusedAfterLookup('tech_no-such-thing');
  });

  it('refuses a technique_id that is not one before anything is sent', async () => {
    for (const technique_id of ['product-shot', 'tech_a/../b', 'tech_a b']) {
      const error = failure(await run({ ...VALID_TECHNIQUE_RUN, technique_id }));
      expect(error.code, technique_id).toBe('invalid_arguments');
      expect(error.fields?.map((f) => f.field)).toEqual(['technique_id']);
    }
    expect(fake.requests).toHaveLength(0);
  });
});

describe('run_technique: one start, on the route that can carry it', () => {
  it('POSTs /techniques/{id}/runs with mode async, typed inputs and the key in the body; reports run_cost', async () => {
    const out = success(
      await run({
        ...VALID_TECHNIQUE_RUN,
        inputs: { scene: 'on oak', product: MUG },
        callback_url: 'https://hooks.example.com/f',
      }),
    );

    expect(fake.requests.map((r) => `${r.method} ${r.rawPath}`)).toEqual([
      'GET /api/v1/techniques/tech_product-shot',
      'POST /api/v1/techniques/tech_product-shot/runs',
    ]);
    const req = posts()[0]!;
    const body = req.body as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['callback_url', 'idempotency_key', 'inputs', 'mode']);
    expect(body).toMatchObject({
      mode: 'async',
      callback_url: 'https://hooks.example.com/f',
      // Declared order, each with its declared type.
      inputs: [
        { id: 'product', type: 'imageUrl', value: MUG },
        { id: 'scene', type: 'text', value: 'on oak' },
      ],
    });
    expect(body.idempotency_key).toMatch(UUID);
    expect(req.headers).not.toHaveProperty('idempotency-key');

    const [started] = [...fake.runs.values()];
    expect(started).toMatchObject({ technique_id: 'tech_product-shot', idempotency_key: body.idempotency_key });
    expect(out).toMatchObject({
      run_id: started!.run_id,
      technique_id: 'tech_product-shot',
      run_cost: 0.05,
      charged_cost: 0.05,
      status: 'completed',
    });
    expect(out).not.toHaveProperty('poll_url');
    expect(out.summary).toContain(`Started technique run ${started!.run_id} of Product shot (billed at its run_cost, US$0.050)`);
    expect(out.summary).toContain(`poll_run with this run_id and technique_id "tech_product-shot"`);
  });

  it("sends the caller's idempotency_key as the body's idempotency_key; a second start with it is refused, one run", async () => {
    const c = await open();
    success(await c.call('run_technique', { ...VALID_TECHNIQUE_RUN, idempotency_key: 'order-7' }));
    const error = failure(await c.call('run_technique', { ...VALID_TECHNIQUE_RUN, idempotency_key: 'order-7' }));

    expect(posts().map((r) => (r.body as { idempotency_key: string }).idempotency_key)).toEqual(['order-7', 'order-7']);
    expect(error).toMatchObject({ code: 'idempotency_duplicate', status: 409, retryable: false });
    expect(fake.runs.size).toBe(1);
    // The definition is cached: one lookup for both calls.
    expect(fake.requestsTo('GET', '/techniques/:id')).toHaveLength(1);
  });

  it('a technique with an audioUrl or documentUrl input goes to POST /runs/technique: inputs as a map, key in the header', async () => {
    const inputs = { title: 'Episode 1', episode: 'https://media.flora.ai/u/ep1.mp3' };
    const out = success(await run({ technique_id: 'tech_podcast-cover', workspace_id: 'ws_client', inputs }));

    expect(fake.requests.map((r) => `${r.method} ${r.rawPath}`)).toEqual([
      'GET /api/v1/techniques/tech_podcast-cover',
      'POST /api/v1/runs/technique',
    ]);
    const req = posts()[0]!;
    expect(req.body).toStrictEqual({
      technique_id: 'tech_podcast-cover',
      workspace_id: 'ws_client',
      inputs: { episode: 'https://media.flora.ai/u/ep1.mp3', title: 'Episode 1' },
    });
    expect(req.headers['idempotency-key']).toMatch(UUID);
    const [started] = [...fake.runs.values()];
    expect(started).toMatchObject({ technique_id: 'tech_podcast-cover', workspace_id: 'ws_client' });
    expect(out).toMatchObject({ run_id: started!.run_id, run_cost: 0.12, estimated_seconds: 0 });
    // FLORA's envelope points its poll_url at GET /runs/{id}, which does not serve technique runs.
    expect(out).not.toHaveProperty('poll_url');
  });

  it('refuses callback_url for a technique only POST /runs/technique can carry, sending nothing', async () => {
    const error = failure(
      await run({
        technique_id: 'tech_podcast-cover',
        workspace_id: 'ws_studio',
        inputs: { episode: 'https://media.flora.ai/u/ep1.mp3', title: 'Ep 1' },
        callback_url: 'https://hooks.example.com/f',
      }),
    );

    expect(error.code).toBe('input_validation_error');
    expect(error.fields?.[0]).toMatchObject({ field: 'callback_url' });
    expect(error.message).toContain('audioUrl, documentUrl');
    expectRefusedAfterLookup('tech_podcast-cover');
  });

  it('when the definition cannot be fetched, runs unchecked through POST /runs/technique and says so', async () => {
    fake.route('GET /techniques/:id', faults.html(502));
    const out = success(await run({ ...VALID_TECHNIQUE_RUN, inputs: { product: MUG, scene: '' } }));

    // One lookup, not retried; then the route that needs no declared types.
    expect(fake.requests.map((r) => `${r.method} ${r.rawPath}`)).toEqual([
      'GET /api/v1/techniques/tech_product-shot',
      'POST /api/v1/runs/technique',
    ]);
    expect(posts()[0]!.body).toStrictEqual({
      technique_id: 'tech_product-shot',
      workspace_id: 'ws_studio',
      inputs: { product: MUG },
    });
    expect(out.run_cost).toBeNull();
    expect(out.warnings).toEqual([
      "The technique's definition could not be read, so the inputs were not checked and run_cost is unknown.",
    ]);
    expect(fake.runs.size).toBe(1);
  });

  it('concurrent runs share one definition lookup; after a failed lookup, runs within a minute go unchecked without asking again', async () => {
    const c = await open();
    await Promise.all([c.call('run_technique', { ...VALID_TECHNIQUE_RUN }), c.call('run_technique', { ...VALID_TECHNIQUE_RUN })]);
    expect(fake.requestsTo('GET', '/techniques/:id')).toHaveLength(1);
    expect(fake.runs.size).toBe(2);

    fake.route('GET /techniques/:id', faults.html(503));
    const video = { technique_id: 'tech_video-restyle', workspace_id: 'ws_studio', inputs: { clip: MUG, style: 'noir' } };
    success(await c.call('run_technique', video));
    success(await c.call('run_technique', video));
    expect(fake.requestsTo('GET', '/techniques/:id')).toHaveLength(2);
    expect(fake.requestsTo('POST', '/runs/technique')).toHaveLength(2);
  });

  it('warns, and still sends, a media URL on a host outside FLORA', async () => {
    const out = success(await run({ ...VALID_TECHNIQUE_RUN, inputs: { product: 'https://cdn.example.com/mug.png' } }));
    expect(out.warnings).toEqual([expect.stringContaining('inputs.product is not an https URL on FLORA')]);
    expect(fake.runs.size).toBe(1);
    expect(techniqueById('tech_product-shot').run_cost).toBe(out.run_cost);
  });
});

/**
 * FloraClient's technique endpoints against the fake FLORA: where each start's idempotency key
 * travels (the body's idempotency_key on POST /techniques/{id}/runs, the Idempotency-Key header on
 * POST /runs/technique), the same key on every retry, a lost answer reported as such with advice
 * that names run_technique, and the URLs technique runs are read at.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LostStartError } from '../src/errors.js';
import type { FloraClient } from '../src/flora/client.js';
import type { TechniqueRunBody } from '../src/flora/schemas.js';
import { type FakeFlora, faults, floraError, type RecordedRequest } from './helpers/fake-flora.js';
import { fastClient, rejection } from './helpers/flora-client.js';
import { useFakeFlora } from './helpers/harness.js';

let fake: FakeFlora;

useFakeFlora((f) => (fake = f));

function makeClient(): FloraClient {
  return fastClient(fake);
}

const failure = rejection;

const NESTED: TechniqueRunBody = {
  inputs: [{ id: 'product', type: 'imageUrl', value: 'https://media.flora.ai/u/mug.png' }],
  mode: 'async',
};

function expectNested(req: RecordedRequest | undefined, key: string): void {
  expect(req).toBeDefined();
  expect(req!.method).toBe('POST');
  expect(req!.rawPath).toBe('/api/v1/techniques/tech_product-shot/runs');
  expect(req!.body).toStrictEqual({ ...NESTED, idempotency_key: key });
  expect(req!.headers).not.toHaveProperty('idempotency-key');
  expect(req!.headers['content-type']).toBe('application/json');
}

describe('POST /techniques/{id}/runs: the key travels in the body', () => {
  it('sends idempotency_key in the body and no Idempotency-Key header; answers the run state', async () => {
    const key = `idem-${randomUUID()}`;
    const started = await makeClient().startTechniqueRun('tech_product-shot', NESTED, key);

    expect(fake.requests).toHaveLength(1);
    expectNested(fake.requests[0], key);
    const [run] = [...fake.runs.values()];
    expect(run).toMatchObject({ technique_id: 'tech_product-shot', idempotency_key: key });
    expect(started).toMatchObject({ run_id: run!.run_id, status: 'completed', progress: 100, charged_cost: 0.05 });
  });

  it('retries a 503 with the same body, key included, and starts one run', async () => {
    const key = `idem-${randomUUID()}`;
    fake.once('POST /techniques/:id/runs', () => floraError(503, 'service_unavailable', 'Try again.'));

    const started = await makeClient().startTechniqueRun('tech_product-shot', NESTED, key);

    const posts = fake.requestsTo('POST', '/techniques/:id/runs');
    expect(posts).toHaveLength(2);
    for (const p of posts) expectNested(p, key);
    expect(posts[1]!.rawBody).toBe(posts[0]!.rawBody);
    expect([...fake.runs.keys()]).toEqual([started.run_id]);
  });

  it('a retry refused as a duplicate of its own lost first attempt is a lost start naming the body key and run_technique history', async () => {
    const key = `idem-${randomUUID()}`;
    fake.once('POST /techniques/:id/runs', (_req, res, ctx) => {
      ctx.defaultReply();
      res.socket?.resetAndDestroy();
    });

    const err = await failure(() => makeClient().startTechniqueRun('tech_product-shot', NESTED, key));

    expect(err).toBeInstanceOf(LostStartError);
    expect(fake.requestsTo('POST', '/techniques/:id/runs')).toHaveLength(2);
    expect(fake.runs.size).toBe(1);
    const p = err.toPayload();
    expect(p).toMatchObject({ code: 'idempotency_duplicate', status: 409, retryable: false, idempotency_key: key });
    expect(p.message).toContain(`idempotency_key "${key}" as already used`);
    expect(p.message).toContain('started the technique run');
    expect(p.message).toContain("the workspace's recent technique runs");
  });

  it('a reset on every attempt is network_error telling the agent to call run_technique with the key', async () => {
    const key = `idem-${randomUUID()}`;
    fake.route('POST /techniques/:id/runs', faults.reset);

    const err = await failure(() => makeClient().startTechniqueRun('tech_product-shot', NESTED, key));

    expect(fake.requests).toHaveLength(3);
    for (const req of fake.requests) expectNested(req, key);
    const p = err.toPayload();
    expect(p).toMatchObject({ code: 'network_error', retryable: true, idempotency_key: key });
    expect(p.message).toContain('The technique run may or may not have started');
    expect(p.message).toContain(`call run_technique with idempotency_key "${key}"`);
    expect(p.message).not.toContain('start_generation_run');
  });

  it('refuses a technique ID that could change the URL before sending anything', async () => {
    const err = await failure(() => makeClient().startTechniqueRun('tech_../runs', NESTED, 'k'));
    expect(err.code).toBe('invalid_arguments');
    expect(err.fields?.map((f) => f.field)).toEqual(['technique_id']);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('POST /runs/technique: the key travels in the header', () => {
  it('sends inputs as a map with technique_id and workspace_id, and the Idempotency-Key header', async () => {
    const key = `idem-${randomUUID()}`;
    const body = {
      technique_id: 'tech_podcast-cover',
      workspace_id: 'ws_studio',
      inputs: { episode: 'https://media.flora.ai/u/ep1.mp3', title: 'Episode 1' },
    };
    const started = await makeClient().startTechniqueRunLegacy(body, key);

    expect(fake.requests).toHaveLength(1);
    const req = fake.requests[0]!;
    expect(req).toMatchObject({ method: 'POST', rawPath: '/api/v1/runs/technique' });
    expect(req.headers['idempotency-key']).toBe(key);
    expect(req.body).toStrictEqual(body);
    expect(started).toMatchObject({ type: 'technique', charged_cost: 0.12, technique: { technique_id: 'tech_podcast-cover' } });
    expect(fake.runs.get(started.run_id)).toMatchObject({ technique_id: 'tech_podcast-cover', workspace_id: 'ws_studio' });
  });
});

describe('reading techniques and their runs', () => {
  it('GET /techniques/{id}/runs/{run_id} reads a technique run; GET /runs/{id} does not serve it', async () => {
    const client = makeClient();
    const started = await client.startTechniqueRun('tech_product-shot', NESTED, 'k1');

    const run = await client.getTechniqueRun('tech_product-shot', started.run_id);
    const elsewhere = await failure(() => client.getRun(started.run_id));

    expect(fake.requests.map((r) => `${r.method} ${r.rawPath}`)).toEqual([
      'POST /api/v1/techniques/tech_product-shot/runs',
      `GET /api/v1/techniques/tech_product-shot/runs/${started.run_id}`,
      `GET /api/v1/runs/${started.run_id}`,
    ]);
    expect(run).toMatchObject({ run_id: started.run_id, status: 'completed' });
    expect(elsewhere).toMatchObject({ code: 'not_found', status: 404 });
  });

  it('lists techniques and technique runs with their filters as query parameters', async () => {
    const client = makeClient();
    const page = await client.listTechniques({ workspace_id: 'ws_studio', query: 'shot', limit: 5 });
    await client.startTechniqueRun('tech_product-shot', NESTED, 'k2');
    const runs = await client.listTechniqueRuns({ workspace_id: 'ws_studio', technique_id: 'tech_product-shot', limit: 20 });

    expect(fake.requests[0]).toMatchObject({
      method: 'GET',
      rawPath: '/api/v1/techniques',
      query: { workspace_id: 'ws_studio', query: 'shot', limit: '5' },
    });
    expect(fake.requests[2]).toMatchObject({
      rawPath: '/api/v1/technique-runs',
      query: { workspace_id: 'ws_studio', technique_id: 'tech_product-shot', limit: '20' },
    });
    expect(page.techniques.map((t) => t.technique_id)).toEqual(['tech_product-shot']);
    expect(runs.technique_runs).toHaveLength(1);
    expect(runs.technique_runs[0]!.technique?.technique_id).toBe('tech_product-shot');
  });
});

/**
 * What FloraClient says, word for word, where the words decide what happens next: the advice on a
 * start whose outcome is unknown (billed and found in the history, or maybe started and safe to
 * retry with the key), the operator's log of retries and requests, and the bounds it waits within
 * (backoff that doubles with jitter, Retry-After up to its cap, the total budget).
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FloraClient, type FloraClientOptions } from '../src/flora/client.js';
import { createLogger, makeRedactor } from '../src/log.js';
import { FAKE_KEY, type FakeFlora, faults, floraError } from './helpers/fake-flora.js';
import { BODY, fastClient, rejection } from './helpers/flora-client.js';
import { useFakeFlora } from './helpers/harness.js';

let fake: FakeFlora;
useFakeFlora((f) => (fake = f));

/** The fast client, with its log lines kept (debug: every request). */
function loggedClient(overrides: Partial<FloraClientOptions> = {}) {
  const lines: string[] = [];
  const logger = createLogger('debug', makeRedactor(FAKE_KEY), (line) => lines.push(line));
  return { client: fastClient(fake, { logger, ...overrides }), lines };
}

const newKey = () => `idem-${randomUUID()}`;

describe('the advice on a start whose outcome is unknown', () => {
  it('a 2xx whose body cannot be read: started and billed, find it in the history, a retry would be refused', async () => {
    const key = newKey();
    fake.route('POST /generate', faults.truncated(201));

    const err = await rejection(() => fastClient(fake).generate(BODY, key));

    expect(err.toPayload()).toMatchObject({ code: 'upstream_error', status: 201, retryable: false, idempotency_key: key });
    expect(err.message).toMatch(/^FLORA answered HTTP 201 but the body is not valid JSON/);
    expect(
      err.message.endsWith(
        ` FLORA accepted the request, so the generation has started and is billed, but its run_id could not be read. Do not start it again; find the run in the project's recent generations. A retry with idempotency_key "${key}" would be refused as a duplicate.`,
      ),
    ).toBe(true);
    expect(fake.requestsTo('POST', '/generate')).toHaveLength(1);
  });

  it("a technique run's 2xx points to the workspace's technique runs, in the technique's words", async () => {
    const key = newKey();
    fake.route('POST /runs/technique', faults.truncated(201));

    const err = await rejection(() =>
      fastClient(fake).startTechniqueRunLegacy(
        { technique_id: 'tech_product-shot', workspace_id: 'ws_studio', inputs: { product: 'https://media.flora.ai/mug.png' } },
        key,
      ),
    );

    expect(err.message).toContain(
      "FLORA accepted the request, so the technique run has started and is billed, but its run_id could not be read. Do not start it again; find the run in the workspace's recent technique runs.",
    );
  });

  it('an HTML 502 on every attempt: may or may not have started, retry with the key to be safe', async () => {
    const key = newKey();
    fake.route('POST /generate', faults.html(502));

    const err = await rejection(() => fastClient(fake).generate(BODY, key));

    expect(err.toPayload()).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, idempotency_key: key });
    expect(
      err.message.endsWith(
        ` The generation may or may not have started. To try again without risking a second charge, call start_generation_run with idempotency_key "${key}": FLORA then refuses a duplicate instead of starting another run.`,
      ),
    ).toBe(true);
    expect(err.message).not.toContain('accepted the request');
    expect(fake.requestsTo('POST', '/generate')).toHaveLength(3);
  });

  it('a definite refusal after a lost attempt: the note that the lost one may have started it, and the key', async () => {
    const key = newKey();
    fake.once('POST /generate', faults.reset);
    fake.once('POST /generate', () => floraError(400, 'input_validation_error', 'Prompt rejected.'));

    const err = await rejection(() => fastClient(fake).generate(BODY, key));

    expect(err.message).toMatch(/^Prompt rejected\. /);
    expect(
      err.message.endsWith(
        ` Note: an earlier attempt of this call got no readable answer, so it may have started the generation. Before starting again, retry with idempotency_key "${key}": FLORA then refuses a duplicate instead of starting a second run.`,
      ),
    ).toBe(true);
  });

  it('a retry refused as a duplicate: the lost first attempt started it; which header FLORA saw used, and where the run is', async () => {
    const key = newKey();
    fake.once('POST /generate', (_req, res, ctx) => {
      ctx.defaultReply();
      res.socket?.resetAndDestroy();
    });

    const err = await rejection(() => fastClient(fake).generate(BODY, key));

    expect(err.toPayload()).toMatchObject({ code: 'idempotency_duplicate', status: 409, retryable: false, idempotency_key: key });
    expect(err.message).toBe(
      `An earlier attempt of this call reached FLORA and started the generation, but its answer was lost on the way back (FLORA now reports Idempotency-Key "${key}" as already used). The run exists and is billed once. Do not start it again: that would start and bill a second run. Find it in the project's recent generations.`,
    );
  });

  it('a 200 whose body cannot be read is accepted like a 201; a 300 is not accepted: it may or may not have started', async () => {
    const key = newKey();
    fake.route('POST /generate', faults.truncated(200));
    const ok = await rejection(() => fastClient(fake).generate(BODY, key));
    expect(ok.message).toContain('FLORA accepted the request, so the generation has started and is billed');

    fake.route('POST /generate', () => ({ status: 300, body: '' }));
    const moved = await rejection(() => fastClient(fake).generate(BODY, key));
    expect(moved.message).toContain('The generation may or may not have started.');
    expect(moved.message).not.toContain('accepted the request');
  });

  it("an upload's definite refusal after a lost attempt says nothing of a generation: uploads are not billed", async () => {
    fake.once('POST /assets', faults.reset);
    fake.once('POST /assets', () => floraError(400, 'input_validation_error', 'Bad source.'));

    const err = await rejection(() =>
      fastClient(fake).createAssetFromUrl({ workspace_id: 'ws_studio', source: 'https://example.com/a.png' }, newKey()),
    );

    expect(err.code).toBe('input_validation_error');
    expect(err.message).toMatch(/^Bad source\./);
    expect(err.message).not.toContain('generation');
    expect(err.idempotencyKey).toBeUndefined();
  });

  it('a 300 is a redirect like any 3xx: not followed, and it says where it pointed', async () => {
    fake.route('GET /models', () => ({ status: 300, body: '' }));

    const err = await rejection(() => fastClient(fake).listModels(undefined));

    expect(err.toPayload()).toMatchObject({ code: 'upstream_error', status: 300, retryable: false });
    expect(err.message).toBe(
      "FLORA answered 300 with a redirect to an unspecified location. It was not followed, so the API key stays on FLORA_BASE_URL's origin. Check FLORA_BASE_URL (default https://app.flora.ai/api/v1).",
    );
  });

  it('says how many attempts it gave up after only when it retried, and never for a rate limit', async () => {
    fake.route('GET /workspaces', () => floraError(503, 'service_unavailable', 'Down.'));
    const down = await rejection(() => fastClient(fake).listWorkspaces());
    expect(down.message).toMatch(/^Down\. .*\. \(gave up after 3 attempts\)$/);

    fake.route('GET /workspaces', () => floraError(404, 'not_found', 'Nothing here.'));
    const missing = await rejection(() => fastClient(fake).listWorkspaces());
    expect(missing.message).toMatch(/^Nothing here\. /);
    expect(missing.message).not.toContain('gave up');

    fake.route('GET /workspaces', () => ({ ...floraError(429, 'rate_limited', 'Slow down.'), headers: { 'retry-after': '0' } }));
    const limited = await rejection(() => fastClient(fake).listWorkspaces());
    expect(limited.code).toBe('rate_limited');
    expect(limited.message).not.toContain('gave up');
  });
});

describe('a cancel', () => {
  it('during a request is cancelled at once, said as such, and not retried as a network failure', async () => {
    fake.route('GET /workspaces', faults.hang);
    const controller = new AbortController();
    const { client, lines } = loggedClient();

    const failing = rejection(() => client.listWorkspaces({ signal: controller.signal }));
    while (fake.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    const err = await failing;

    expect(err.toPayload()).toMatchObject({
      code: 'cancelled',
      retryable: false,
      message: 'The call was cancelled by the client before FLORA answered.',
    });
    expect(lines.filter((l) => l.includes(' warn: '))).toEqual([]);
    expect(fake.requests).toHaveLength(1);
  });
});

describe('a host name that does not resolve', () => {
  /** A client for flora.example whose fetch (the client's seam) fails as DNS does, with `code`. */
  function unresolved(code: string) {
    let calls = 0;
    const client = new FloraClient({
      apiKey: FAKE_KEY,
      baseUrl: new URL('https://flora.example/api/v1'),
      timeoutMs: 1_000,
      maxRetries: 2,
      baseBackoffMs: 1,
      fetch: async () => {
        calls++;
        throw new TypeError('fetch failed', { cause: { code } });
      },
    });
    return { client, calls: () => calls };
  }

  it('for good (ENOTFOUND) is not retried, and says to check FLORA_BASE_URL', async () => {
    const { client, calls } = unresolved('ENOTFOUND');
    const err = await rejection(() => client.listWorkspaces());
    expect(err.toPayload()).toMatchObject({ code: 'network_error', retryable: false });
    expect(err.message).toBe("Could not resolve flora.example (ENOTFOUND). Check FLORA_BASE_URL and the machine's network.");
    expect(calls()).toBe(1);
  });

  it('for now (EAI_AGAIN) is retried, then reported as retryable', async () => {
    const { client, calls } = unresolved('EAI_AGAIN');
    const err = await rejection(() => client.listWorkspaces());
    expect(err.toPayload()).toMatchObject({ code: 'network_error', retryable: true });
    expect(calls()).toBe(3);
  });
});

describe('IDs refused before any request', () => {
  it('a run ID that is not one, with the rule it breaks', async () => {
    const err = await rejection(() => fastClient(fake).getRun('gen_123'));
    expect(err.toPayload()).toMatchObject({
      code: 'invalid_arguments',
      message: 'run_id "gen_123" is not a FLORA run ID.',
      fields: [{ field: 'run_id', message: expect.stringContaining('must be a FLORA run ID like "run_abc123"') }],
    });
    expect(fake.requests).toHaveLength(0);
  });

  it('an asset ID FLORA sent that would change the URL, quoted up to 40 characters', async () => {
    const bad = `asset_${'x'.repeat(40)}/../../admin`;
    const err = await rejection(() => fastClient(fake).getAsset(bad));
    expect(err.toPayload()).toMatchObject({
      code: 'upstream_error',
      message: `FLORA returned an asset ID that cannot be used in a URL ("${bad.slice(0, 40)}").`,
    });
    expect(fake.requests).toHaveLength(0);
  });
});

describe('where requests go', () => {
  it('a base URL with several trailing slashes still joins to one path', async () => {
    const client = new FloraClient({ apiKey: FAKE_KEY, baseUrl: new URL(`${fake.baseUrl}///`), timeoutMs: 5_000, maxRetries: 0 });
    await client.listWorkspaces();
    expect(fake.requests.map((r) => r.rawPath)).toEqual(['/api/v1/workspaces']);
  });

  it('a multipart upload sends only the placement fields it was given', async () => {
    await fastClient(fake).uploadAsset(
      { workspace_id: 'ws_studio', file: new Blob([Buffer.from('89504e470d0a1a0a', 'hex')]), file_name: 'a.png' },
      newKey(),
    );
    const [post] = fake.requestsTo('POST', '/assets');
    expect([...(post!.form?.keys() ?? [])]).toEqual(['workspace_id', 'file']);
  });
});

describe('the operator log', () => {
  it('says each retry: what failed, which retry of how many, and the backoff (doubling, capped, less its jitter)', async () => {
    const key = newKey();
    fake.once('POST /generate', () => floraError(503, 'service_unavailable', 'Down.'));
    fake.once('POST /generate', faults.reset);
    fake.once('POST /generate', () => floraError(503, 'service_unavailable', 'Down.'));
    // Steps 100, 200 -> capped at 150, 150; jitter takes a quarter of a step times random() = 0.5.
    const { client, lines } = loggedClient({ baseBackoffMs: 100, maxBackoffMs: 150, maxRetries: 3, random: () => 0.5 });

    await client.generate(BODY, key);

    expect(lines.filter((l) => l.includes(' warn: '))).toEqual([
      expect.stringMatching(/ warn: POST \/generate failed with 503; retry 1\/3 in 88 ms\n$/),
      expect.stringMatching(/ warn: POST \/generate failed with network_error; retry 2\/3 in 131 ms\n$/),
      expect.stringMatching(/ warn: POST \/generate failed with 503; retry 3\/3 in 131 ms\n$/),
    ]);
    expect(fake.runs.size).toBe(1);
  });

  it('at debug, says each answer: method, path, status, time, which attempt and FLORA request-id when sent', async () => {
    fake.once('GET /workspaces', () => floraError(503, 'service_unavailable', 'Down.'));
    fake.once('GET /workspaces', (_req, res) => {
      // An answer without a request-id header.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ workspaces: [] }));
    });
    const { client, lines } = loggedClient();

    await client.listWorkspaces();

    const answers = lines.filter((l) => l.includes(' debug: '));
    expect(answers).toEqual([
      expect.stringMatching(/ debug: GET \/api\/v1\/workspaces -> 503 in \d+ ms \(attempt 1, req_\d+\)\n$/),
      expect.stringMatching(/ debug: GET \/api\/v1\/workspaces -> 200 in \d+ ms \(attempt 2\)\n$/),
    ]);
    // Each time is the request's own (milliseconds), not a clock reading.
    for (const l of answers) expect(Number(/ in (\d+) ms/.exec(l)?.[1])).toBeLessThan(60_000);
  });
});

describe('the bounds it waits within', () => {
  it('sits out a Retry-After of exactly its cap (maxRetryAfterMs), then retries with the same key', async () => {
    const key = newKey();
    fake.once('POST /generate', () => ({ ...floraError(429, 'rate_limited', 'Slow down.'), headers: { 'retry-after': '1' } }));

    const started = await fastClient(fake, { maxRetryAfterMs: 1_000 }).generate(BODY, key);

    const posts = fake.requestsTo('POST', '/generate');
    expect(posts.map((p) => p.headers['idempotency-key'])).toEqual([key, key]);
    expect(fake.runs.has(started.run_id)).toBe(true);
  });

  it("cuts a retry's timeout to what is left of the total budget", async () => {
    fake.once('GET /workspaces', () => floraError(503, 'service_unavailable', 'Down.'));
    fake.route('GET /workspaces', faults.hang);

    const err = await rejection(() => fastClient(fake, { timeoutMs: 1_500, maxTotalMs: 1_500 }).listWorkspaces());

    expect(err.code).toBe('timeout');
    const ms = Number(/did not answer within (\d+) ms/.exec(err.message)?.[1]);
    // The first attempt and its backoff took some of the 1.5 s: the retry got only the rest.
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThan(1_500);
    expect(fake.requestsTo('GET', '/workspaces')).toHaveLength(2);
  });
});

/**
 * The spend guard through a real SDK client: the question the user sees (the elicitation's
 * message and schema) and their answers, a client that cannot be asked, unknown costs, the total
 * spend limit over several starts, concurrent starts, and estimate_only. Every refusal is checked
 * against what FLORA received: no start.
 */
import type { CallToolResult, ElicitRequest, ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { type FakeFlora, faults, MODELS, modelById } from '../helpers/fake-flora.js';
import { type ConnectOptions, failure, success, useConnections, VALID_START, VALID_TECHNIQUE_RUN } from '../helpers/harness.js';

let fake: FakeFlora;
const { open } = useConnections((f) => (fake = f));

const MUG = 'https://media.flora.ai/uploads/mug.png';
/** A $0.33 run: image-to-video with i2v-kling-2.5, 327 credits. */
const I2V = { ...VALID_START, type: 'video', model: 'i2v-kling-2.5', params: { image_url: MUG } };
/** A $0.04 run: t2i-flux-2-pro, 40 credits. */
const FLUX = { ...VALID_START, model: 't2i-flux-2-pro' };
const GATEWAY = { ...modelById('t2i-flux-2-pro'), model_id: 't2i-gateway', provider: 'generation_gateway', estimated_credits: 0 };

/** What the user saw, and what they answer. */
function user(answer: ElicitResult): { asked: ElicitRequest['params'][]; elicit: NonNullable<ConnectOptions['elicit']> } {
  const asked: ElicitRequest['params'][] = [];
  return {
    asked,
    elicit: (params) => {
      asked.push(params);
      return answer;
    },
  };
}

const CONFIRM_SCHEMA = {
  type: 'object',
  properties: { confirm: { type: 'boolean', title: 'Start this run', description: 'true starts it and bills FLORA.' } },
  required: ['confirm'],
};

async function call(opts: ConnectOptions, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await open(opts)).call(name, args);
}

/** The requests FLORA received, as "METHOD path". */
function received(): string[] {
  return fake.requests.map((r) => `${r.method} ${r.path}`);
}

it('an invalid limit is a configuration_error naming it, and nothing is sent', async () => {
  const error = failure(await call({ env: { FLORA_MAX_RUN_USD: '-1' } }, 'start_generation_run', FLUX));
  expect(error.code).toBe('configuration_error');
  expect(error.message).toContain('FLORA_MAX_RUN_USD must be an amount of US dollars, 0 or more');
  expect(received()).toEqual([]);
});

describe('FLORA_MAX_RUN_USD with a client that can ask', () => {
  const env = { FLORA_MAX_RUN_USD: '0.10' };

  it('asks once, naming the model, the estimate and the limit; accept with confirm: true starts the run', async () => {
    const { asked, elicit } = user({ action: 'accept', content: { confirm: true } });
    const out = success(await call({ env, elicit }, 'start_generation_run', I2V));

    expect(asked).toEqual([
      {
        mode: 'form',
        message:
          'Start a FLORA run of model i2v-kling-2.5? Estimated US$0.327. Your per-run limit FLORA_MAX_RUN_USD is US$0.10. Billed to your FLORA workspace.',
        requestedSchema: CONFIRM_SCHEMA,
      },
    ]);
    expect(received()).toEqual(['GET /models', 'POST /generate']);
    expect(fake.runs.size).toBe(1);
    expect(out).toMatchObject({ run_id: [...fake.runs.keys()][0], estimated_usd: 0.327, spent_usd: 0.327, max_run_usd: 0.1 });
    expect(out).not.toHaveProperty('spend_limit_usd');
  });

  it.each([
    ['declines', { action: 'decline' }, 'declined'],
    ['cancels', { action: 'cancel' }, 'cancelled the question'],
    ['accepts with confirm: false', { action: 'accept', content: { confirm: false } }, 'declined'],
  ] as const)('the user %s: confirmation_declined, nothing sent to FLORA', async (_, answer, words) => {
    const { asked, elicit } = user(answer as ElicitResult);
    const error = failure(await call({ env, elicit }, 'start_generation_run', I2V));

    expect(asked).toHaveLength(1);
    expect(error).toEqual({
      code: 'confirmation_declined',
      message: `Not started: a run of model i2v-kling-2.5: it is estimated at US$0.327, above FLORA_MAX_RUN_USD (US$0.10), so the user was asked to confirm it and ${words}. Nothing was sent to FLORA. Do not start it again unless the user asks you to.`,
      retryable: false,
    });
    expect(received()).toEqual(['GET /models']);
    expect(fake.runs.size).toBe(0);
  });

  it('a declined run holds nothing of the spend limit: a confirmed one that fits only alone then starts', async () => {
    let answer: ElicitResult = { action: 'decline' };
    const conn = await open({ env: { ...env, FLORA_SPEND_LIMIT_USD: '0.5' }, elicit: () => answer });
    failure(await conn.call('start_generation_run', I2V));
    answer = { action: 'accept', content: { confirm: true } };
    const out = success(await conn.call('start_generation_run', I2V));

    expect(out).toMatchObject({ estimated_usd: 0.327, spent_usd: 0.327, max_run_usd: 0.1, spend_limit_usd: 0.5 });
    expect(fake.requestsTo('POST', '/generate')).toHaveLength(1);
  });

  it('a run within the limit starts without a question', async () => {
    const { asked, elicit } = user({ action: 'decline' });
    const out = success(await call({ env, elicit }, 'start_generation_run', FLUX));
    expect(asked).toEqual([]);
    expect(out).toMatchObject({ estimated_usd: 0.04, spent_usd: 0.04, max_run_usd: 0.1 });
    expect(received()).toEqual(['GET /models', 'POST /generate']);
  });

  it('asks about a technique above the limit by its name, at its run_cost, and runs it once confirmed', async () => {
    const { asked, elicit } = user({ action: 'accept', content: { confirm: true } });
    const out = success(
      await call({ env: { FLORA_MAX_RUN_USD: '0.5' }, elicit }, 'run_technique', {
        technique_id: 'tech_video-restyle',
        workspace_id: 'ws_studio',
        inputs: { clip: 'https://media.flora.ai/uploads/clip.mp4', style: 'watercolour' },
      }),
    );
    expect(asked.map((a) => a.message)).toEqual([
      'Start a FLORA run of technique Video restyle (tech_video-restyle)? Estimated US$0.80. Your per-run limit FLORA_MAX_RUN_USD is US$0.50. Billed to your FLORA workspace.',
    ]);
    expect(received()).toEqual(['GET /techniques/tech_video-restyle', 'POST /techniques/tech_video-restyle/runs']);
    expect(out).toMatchObject({ estimated_usd: 0.8, spent_usd: 0.8, max_run_usd: 0.5 });
  });
});

describe('FLORA_MAX_RUN_USD with a client that cannot ask', () => {
  it('refuses a run above the limit as budget_exceeded, naming the estimate, the variable and how to raise it; nothing sent', async () => {
    const error = failure(await call({ env: { FLORA_MAX_RUN_USD: '0.10' } }, 'start_generation_run', I2V));

    expect(error).toEqual({
      code: 'budget_exceeded',
      message:
        'Not started: a run of model i2v-kling-2.5: it is estimated at US$0.327, above FLORA_MAX_RUN_USD (US$0.10). Such a run needs the user\'s confirmation, and this MCP client cannot show the user a question (it declares no form elicitation capability). Nothing was sent to FLORA. The user can raise FLORA_MAX_RUN_USD (or unset it) in the "env" block of this server in their MCP client config, then restart the client; tell the user, and do not try to work around it; or pick a cheaper option.',
      retryable: false,
    });
    expect(received()).toEqual(['GET /models']);
  });

  it('refuses a technique above the limit after reading its definition, and starts nothing', async () => {
    const error = failure(
      await call({ env: { FLORA_MAX_RUN_USD: '0.5' } }, 'run_technique', {
        technique_id: 'tech_video-restyle',
        workspace_id: 'ws_studio',
        inputs: { clip: 'https://media.flora.ai/uploads/clip.mp4', style: 'watercolour' },
      }),
    );
    expect(error.code).toBe('budget_exceeded');
    expect(error.message).toContain('technique Video restyle (tech_video-restyle): it is estimated at US$0.80');
    expect(received()).toEqual(['GET /techniques/tech_video-restyle']);
    expect(fake.runs.size).toBe(0);
  });

  it('HTTP-style transport refuses even when the client declares elicitation: nobody is asked', async () => {
    const { asked, elicit } = user({ action: 'accept', content: { confirm: true } });
    const error = failure(
      await call({ env: { FLORA_MAX_RUN_USD: '0.10' }, elicit, transport: 'http' }, 'start_generation_run', I2V),
    );
    expect(error.code).toBe('budget_exceeded');
    expect(error.message).toContain(
      'this server is reached over HTTP, whose stateless requests cannot carry a question back to the user',
    );
    expect(asked).toEqual([]);
    expect(received()).toEqual(['GET /models']);
  });
});

describe('unknown costs never count as zero', () => {
  it('no model named: the user is asked, saying the cost is unknown and why; FLORA is not even asked for its catalog', async () => {
    const { asked, elicit } = user({ action: 'decline' });
    const error = failure(await call({ env: { FLORA_MAX_RUN_USD: '5' }, elicit }, 'start_generation_run', VALID_START));

    expect(asked.map((a) => a.message)).toEqual([
      "Start a FLORA run of the workspace's default model? Cost unknown (No model was named, so FLORA runs the workspace default, whose cost is unknown here.). Your per-run limit FLORA_MAX_RUN_USD is US$5.00. Billed to your FLORA workspace.",
    ]);
    expect(error.code).toBe('confirmation_declined');
    expect(received()).toEqual([]);
  });

  it('a 0-credit generation_gateway model is refused where nobody can be asked, even under a generous limit', async () => {
    fake.models = [...MODELS, GATEWAY];
    const error = failure(
      await call({ env: { FLORA_MAX_RUN_USD: '5' } }, 'start_generation_run', { ...VALID_START, model: 't2i-gateway' }),
    );
    expect(error.code).toBe('budget_exceeded');
    expect(error.message).toContain(
      "its cost is unknown (FLORA's catalog reports 0 credits for t2i-gateway, which runs behind generation_gateway; FLORA measured such models as not free.)",
    );
    expect(received()).toEqual(['GET /models']);
  });

  it('with only the spend limit set, an unknown cost is asked about; once started it shows as unpriced, not as free', async () => {
    fake.models = [...MODELS, GATEWAY];
    const { asked, elicit } = user({ action: 'accept', content: { confirm: true } });
    const out = success(
      await call({ env: { FLORA_SPEND_LIMIT_USD: '1' }, elicit }, 'start_generation_run', {
        ...VALID_START,
        model: 't2i-gateway',
      }),
    );
    expect(asked[0]?.message).toContain("Cost unknown (FLORA's catalog reports 0 credits for t2i-gateway");
    expect(asked[0]?.message).toContain("This server's FLORA runs have spent US$0.00 of FLORA_SPEND_LIMIT_USD US$1.00.");
    // FLORA quoted 0 for it: that tells nothing, so it counts as unpriced, outside spent_usd.
    expect(out).toMatchObject({ estimated_usd: null, charged_cost: 0, spent_usd: 0, unpriced_runs: 1, spend_limit_usd: 1 });
    expect(fake.requestsTo('POST', '/generate')).toHaveLength(1);
  });

  it('with no limit set, nothing is asked or refused: estimated_usd is null, and no spend fields', async () => {
    const { asked, elicit } = user({ action: 'decline' });
    const out = success(await call({ elicit }, 'start_generation_run', VALID_START));
    expect(asked).toEqual([]);
    expect(out.estimated_usd).toBeNull();
    expect(out).not.toHaveProperty('spent_usd');
    expect(out).not.toHaveProperty('max_run_usd');
    expect(fake.runs.size).toBe(1);
  });
});

describe('FLORA_SPEND_LIMIT_USD', () => {
  it('lets starts go until the next would cross it, then refuses with spent and limit; FLORA saw only the allowed ones', async () => {
    const conn = await open({ env: { FLORA_SPEND_LIMIT_USD: '0.10' } });
    const first = success(await conn.call('start_generation_run', FLUX));
    const second = success(await conn.call('start_generation_run', FLUX));
    const third = failure(await conn.call('start_generation_run', FLUX));

    expect(first).toMatchObject({ estimated_usd: 0.04, spent_usd: 0.04, spend_limit_usd: 0.1 });
    expect(second).toMatchObject({ spent_usd: 0.08 });
    expect(third).toEqual({
      code: 'budget_exceeded',
      message:
        'Not started: a run of model t2i-flux-2-pro: it is estimated at US$0.04, and this server\'s runs have already spent US$0.08 of FLORA_SPEND_LIMIT_USD (US$0.10). Nothing was sent to FLORA. Spend is counted by this server process since it started. The user can raise FLORA_SPEND_LIMIT_USD in the "env" block of this server in their MCP client config, then restart the client; tell the user, and do not try to work around it.',
      retryable: false,
    });
    expect(fake.requestsTo('POST', '/generate')).toHaveLength(2);
    expect(fake.runs.size).toBe(2);
  });

  it("counts a run at FLORA's charged_cost when a poll shows it above the estimate", async () => {
    const conn = await open({ env: { FLORA_SPEND_LIMIT_USD: '0.10' } });
    const { run_id } = success(await conn.call('start_generation_run', FLUX));
    fake.route('GET /runs/:id', (_req, _res, ctx) => {
      const reply = ctx.defaultReply();
      return { ...reply, body: { ...(reply.body as object), charged_cost: 0.09 } };
    });
    // The run is done: its output comes as one more block.
    expect(success(await conn.call('poll_run', { run_id }), 1)).toMatchObject({ status: 'completed', charged_cost: 0.09 });
    // 0.09 + 0.04 is past 0.10, where two estimates (0.08) would not have been.
    const error = failure(await conn.call('start_generation_run', FLUX));
    expect(error.message).toContain("this server's runs have already spent US$0.09 of FLORA_SPEND_LIMIT_USD (US$0.10)");
    expect(fake.requestsTo('POST', '/generate')).toHaveLength(1);
  });

  it('two concurrent starts cannot both pass a limit only one fits: the second is refused while the first is on its way', async () => {
    const conn = await open({ env: { FLORA_SPEND_LIMIT_USD: '0.5' } });
    let secondAnswered: () => void = () => {};
    const secondDone = new Promise<void>((resolve) => (secondAnswered = resolve));
    // FLORA answers the first start only once the second call has its answer: without the
    // hold, the second start would reach FLORA too, and wait here for ever.
    fake.route('POST /generate', async (_req, _res, ctx) => {
      await secondDone;
      return ctx.defaultReply();
    });
    const first = conn.call('start_generation_run', I2V);
    const second = conn.call('start_generation_run', I2V).finally(secondAnswered);

    const results = await Promise.all([first, second]);
    const codes = results.map((r) => (r.isError ? failure(r).code : 'started'));
    expect(codes.sort()).toEqual(['budget_exceeded', 'started']);
    expect(fake.requestsTo('POST', '/generate')).toHaveLength(1);
  });

  it('a start whose outcome is unknown stays counted, and its retry with the same key is neither counted twice nor refused', async () => {
    const conn = await open({ env: { FLORA_SPEND_LIMIT_USD: '0.07', FLORA_MAX_RETRIES: '0' } });
    fake.once('POST /generate', faults.reset);
    const lost = failure(await conn.call('start_generation_run', FLUX));
    expect(lost.code).toBe('network_error');
    const key = lost.idempotency_key as string;
    expect(key).toBeTruthy();

    // A new start would cross 0.07 (0.04 counted + 0.04)...
    expect(failure(await conn.call('start_generation_run', FLUX)).code).toBe('budget_exceeded');
    // ...but the retry of the uncertain one is that same run.
    const retried = success(await conn.call('start_generation_run', { ...FLUX, idempotency_key: key }));
    expect(retried).toMatchObject({ spent_usd: 0.04, spend_limit_usd: 0.07 });
    expect(fake.requestsTo('POST', '/generate').map((r) => r.headers['idempotency-key'])).toEqual([key, key]);
    expect(fake.runs.size).toBe(1);
  });

  it('a start FLORA refuses releases its hold', async () => {
    const conn = await open({ env: { FLORA_SPEND_LIMIT_USD: '0.05' } });
    fake.once('POST /generate', () => ({ status: 402, body: { error: { code: 'insufficient_credits', message: 'Top up.' } } }));
    expect(failure(await conn.call('start_generation_run', FLUX)).code).toBe('insufficient_credits');
    expect(success(await conn.call('start_generation_run', FLUX))).toMatchObject({ spent_usd: 0.04 });
  });

  it('counts technique runs too', async () => {
    const conn = await open({ env: { FLORA_SPEND_LIMIT_USD: '0.08' } });
    expect(success(await conn.call('run_technique', VALID_TECHNIQUE_RUN))).toMatchObject({
      estimated_usd: 0.05,
      spent_usd: 0.05,
    });
    const error = failure(await conn.call('start_generation_run', FLUX));
    expect(error.message).toContain('have already spent US$0.05 of FLORA_SPEND_LIMIT_USD (US$0.08)');
    expect(fake.requestsTo('POST', '/generate')).toHaveLength(0);
  });
});

describe('estimate_only', () => {
  it('start_generation_run: after the pre-flight checks, the estimate and the limits; no start and no question', async () => {
    const { asked, elicit } = user({ action: 'accept', content: { confirm: true } });
    const out = success(
      await call({ env: { FLORA_MAX_RUN_USD: '0.10', FLORA_SPEND_LIMIT_USD: '10' }, elicit }, 'start_generation_run', {
        ...I2V,
        estimate_only: true,
      }),
    );
    expect(out).toEqual({
      summary:
        "Estimate only: nothing was started or sent to FLORA. Estimated cost of a run of model i2v-kling-2.5: US$0.327 (the model's estimated_credits at about US$0.001 each: an approximation; FLORA settles the charge later). A start now would first ask the user to confirm: it is estimated at US$0.327, above FLORA_MAX_RUN_USD (US$0.10).",
      estimated_usd: 0.327,
      spent_usd: 0,
      max_run_usd: 0.1,
      spend_limit_usd: 10,
    });
    expect(asked).toEqual([]);
    expect(received()).toEqual(['GET /models']);
  });

  it('still refuses what the pre-flight check refuses', async () => {
    const error = failure(await call({}, 'start_generation_run', { ...VALID_START, model: 't2i-flux-9', estimate_only: true }));
    expect(error.code).toBe('input_validation_error');
    expect(received()).toEqual(['GET /models']);
  });

  it('an unknown estimate is null, with a sentence saying why', async () => {
    const out = success(await call({}, 'start_generation_run', { ...VALID_START, estimate_only: true }));
    expect(out.estimated_usd).toBeNull();
    expect(out.summary).toContain(
      "Estimated cost of a run of the workspace's default model: unknown. No model was named, so FLORA runs the workspace default, whose cost is unknown here.",
    );
    expect(received()).toEqual([]);
  });

  it('run_technique: its run_cost, and that a start would be refused here; only the definition was read', async () => {
    const out = success(
      await call({ env: { FLORA_MAX_RUN_USD: '0.01' } }, 'run_technique', { ...VALID_TECHNIQUE_RUN, estimate_only: true }),
    );
    expect(out).toMatchObject({ estimated_usd: 0.05, spent_usd: 0, max_run_usd: 0.01 });
    expect(out.summary).toContain(
      'Estimated cost of a run of technique Product shot (tech_product-shot): US$0.05 (its run_cost).',
    );
    expect(out.summary).toContain('A start now would be refused (budget_exceeded)');
    expect(received()).toEqual(['GET /techniques/tech_product-shot']);
    expect(fake.runs.size).toBe(0);
  });
});

describe('start_generation_batch under the spend guard', () => {
  const batchOf = (...items: Array<Record<string, unknown>>) => ({ generations: items });
  const starts = () => fake.requests.filter((r) => r.method === 'POST' && r.path === '/generate');

  it('asks one question for every item over FLORA_MAX_RUN_USD, with the total; accepted, all start', async () => {
    const { asked, elicit } = user({ action: 'accept', content: { confirm: true } });
    const out = success(
      await call({ env: { FLORA_MAX_RUN_USD: '0.10' }, elicit }, 'start_generation_batch', batchOf(I2V, FLUX, I2V)),
    );

    expect(asked).toHaveLength(1);
    expect(asked[0]?.message).toContain('US$0.654');
    expect(asked[0]?.message.match(/i2v-kling-2\.5/g)).toHaveLength(2);
    expect(asked[0]?.message).not.toContain('t2i-flux-2-pro');
    expect(starts()).toHaveLength(3);
    expect(out).toMatchObject({ started: 3, failed: 0, estimated_usd: 0.694, spent_usd: 0.694, max_run_usd: 0.1 });
  });

  it('declined: only the items within the limit start, the others are refused in place', async () => {
    const { asked, elicit } = user({ action: 'decline' });
    const out = success(await call({ env: { FLORA_MAX_RUN_USD: '0.10' }, elicit }, 'start_generation_batch', batchOf(I2V, FLUX)));

    expect(asked).toHaveLength(1);
    expect(starts().map((r) => (r.body as { model: string }).model)).toEqual(['t2i-flux-2-pro']);
    const runs = out.runs as Array<Record<string, unknown>>;
    expect(runs[0]).toMatchObject({ index: 0, error: { code: 'confirmation_declined', retryable: false } });
    expect(runs[1]).toMatchObject({ index: 1, estimated_usd: 0.04 });
    expect(out).toMatchObject({ started: 1, failed: 1 });
  });

  it('a client that cannot be asked: items over the limit are refused per item, the rest start', async () => {
    const out = success(await call({ env: { FLORA_MAX_RUN_USD: '0.10' } }, 'start_generation_batch', batchOf(FLUX, I2V)));

    expect((out.runs as Array<Record<string, unknown>>)[1]).toMatchObject({
      error: { code: 'budget_exceeded', retryable: false },
    });
    expect(starts()).toHaveLength(1);
  });

  it('FLORA_SPEND_LIMIT_USD stops the batch at the item that would cross it, and says so for every item after', async () => {
    // 0.04 each: the third would take spend to 0.12, past 0.10.
    const out = success(
      await call({ env: { FLORA_SPEND_LIMIT_USD: '0.10' } }, 'start_generation_batch', batchOf(FLUX, FLUX, FLUX, FLUX)),
    );
    const runs = out.runs as Array<{ error?: { code: string; message: string } }>;

    expect(starts()).toHaveLength(2);
    expect(out).toMatchObject({ started: 2, failed: 2, spent_usd: 0.08, spend_limit_usd: 0.1 });
    expect(runs[2]?.error?.code).toBe('budget_exceeded');
    expect(runs[2]?.error?.message).toContain("this server's runs have already spent US$0.08 of FLORA_SPEND_LIMIT_USD (US$0.10)");
    expect(runs[3]?.error?.code).toBe('budget_exceeded');
    expect(runs[3]?.error?.message).toContain('an earlier start of this call (model t2i-flux-2-pro) would already cross');
  });

  it('estimate_only prices every item and what a start would meet, and sends no start', async () => {
    const out = success(
      await call({ env: { FLORA_MAX_RUN_USD: '0.10' } }, 'start_generation_batch', {
        ...batchOf(FLUX, I2V, { ...FLUX, model: 'no-such-model' }),
        estimate_only: true,
      }),
    );

    expect(starts()).toEqual([]);
    expect(out.runs).toMatchObject([
      { index: 0, estimated_usd: 0.04, would: 'start' },
      { index: 1, estimated_usd: 0.327, would: 'be refused (budget_exceeded)' },
      { index: 2, error: { code: 'input_validation_error' } },
    ]);
    expect(out.estimated_usd).toBe(0.367);
    expect(out.summary).toContain('Estimate only: nothing was started or sent to FLORA.');
  });
});

/**
 * The spend guard's own API (src/flora/spend.ts), as a batch will use it: a list of pending
 * starts judged in one step, one question for every start over the per-run limit, the spend
 * limit stopping the list at the item that would cross it; and the ledger behind it (holds,
 * settling, polls, bounds) and the per-key book of HTTP mode.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { FloraError } from '../src/errors.js';
import { SpendBook } from '../src/flora/spend-book.js';
import { SpendLedger } from '../src/flora/spend-ledger.js';
import {
  type Answer,
  type Asker,
  authorize,
  authorizeOne,
  type Estimate,
  estimateOnly,
  formatUsd,
  generationEstimate,
  judge,
  type PendingStart,
  type SpendGuard,
  type SpendLimits,
  techniqueEstimate,
} from '../src/flora/spend.js';
import { MODELS, modelById } from './helpers/fake-flora.js';
import { techniqueById } from './helpers/fake-techniques.js';

const NO_SIGNAL = new AbortController().signal;
let keys = 0;

function pending(label: string, usd: number | null, why?: string): PendingStart {
  const estimate: Estimate = usd === null ? { usd, why: why ?? 'Nobody knows.' } : { usd };
  return { label, estimate, idempotencyKey: `key-${++keys}` };
}

/** The user, as a client that can ask sees them: records each question, gives `answer`. */
function user(answer: Answer): { asker: Asker; questions: string[] } {
  const questions: string[] = [];
  return {
    questions,
    asker: {
      ask: async (message) => {
        questions.push(message);
        return answer;
      },
    },
  };
}

function guardOf(limits: Partial<SpendLimits>, asker: Asker, ledger = new SpendLedger()): SpendGuard {
  return { ledger, limits: { maxRunUsd: undefined, spendLimitUsd: undefined, ...limits }, asker };
}

const CANNOT: Asker = { cannotAsk: 'this MCP client cannot show the user a question' };

describe('estimates', () => {
  it("a generation's estimate is its model's estimated_credits at US$0.001 each", () => {
    expect(generationEstimate('i2v-kling-2.5', MODELS)).toEqual({ usd: 0.327 });
    expect(generationEstimate('t2i-flux-2-pro', MODELS)).toEqual({ usd: 0.04 });
  });

  it('is unknown, with a sentence why, without a model, without a catalog, and for a 0-credit generation_gateway model', () => {
    const gateway = { ...modelById('t2i-flux-2-pro'), model_id: 't2i-gw', provider: 'generation_gateway', estimated_credits: 0 };
    expect(generationEstimate(undefined, MODELS)).toEqual({
      usd: null,
      why: 'No model was named, so FLORA runs the workspace default, whose cost is unknown here.',
    });
    expect(generationEstimate('t2i-flux-2-pro', undefined)).toEqual({
      usd: null,
      why: "FLORA's model catalog could not be read just now.",
    });
    expect(generationEstimate('t2i-gw', [...MODELS, gateway])).toEqual({
      usd: null,
      why: "FLORA's catalog reports 0 credits for t2i-gw, which runs behind generation_gateway; FLORA measured such models as not free.",
    });
    // 0 credits from any other provider is taken at its word: free.
    expect(generationEstimate('t2i-free', [...MODELS, { ...gateway, model_id: 't2i-free', provider: 'bfl' }])).toEqual({
      usd: 0,
    });
  });

  it("a technique's estimate is its run_cost; unknown when its definition could not be read", () => {
    expect(techniqueEstimate('tech_video-restyle', techniqueById('tech_video-restyle'))).toEqual({ usd: 0.8 });
    expect(techniqueEstimate('tech_x', undefined)).toEqual({
      usd: null,
      why: 'The definition of tech_x could not be read just now.',
    });
  });

  it('formats dollars with at least cents and at most a hundredth of a cent', () => {
    expect([0.327, 0.1, 10, 0.04, 0.0004, 1.23456].map(formatUsd)).toEqual([
      'US$0.327',
      'US$0.10',
      'US$10.00',
      'US$0.04',
      'US$0.0004',
      'US$1.2346',
    ]);
  });
});

describe('judge: the word on each start of a list', () => {
  it('with no limit set, everything goes, unknown costs included', () => {
    const starts = [pending('a', 5), pending('b', null)];
    expect(judge(starts, { maxRunUsd: undefined, spendLimitUsd: undefined }, 100)).toEqual([{ kind: 'go' }, { kind: 'go' }]);
  });

  it('asks about starts above the per-run limit or of unknown cost, lets the rest go; a start at the limit goes', () => {
    const starts = [pending('model a', 0.1), pending('model b', 0.327), pending('model c', null, 'No model.')];
    expect(judge(starts, { maxRunUsd: 0.1, spendLimitUsd: undefined }, 0)).toEqual([
      { kind: 'go' },
      { kind: 'ask', why: 'it is estimated at US$0.327, above FLORA_MAX_RUN_USD (US$0.10)' },
      { kind: 'ask', why: 'its cost is unknown (No model.), so it cannot be held to FLORA_MAX_RUN_USD' },
    ]);
  });

  it('stops at the start that would cross the spend limit, and every start after it, cheap ones included', () => {
    const starts = [pending('model a', 0.3), pending('model b', 0.3), pending('model c', 0.01), pending('model d', 0.01)];
    expect(judge(starts, { maxRunUsd: undefined, spendLimitUsd: 1 }, 0.5)).toEqual([
      { kind: 'go' },
      {
        kind: 'stop',
        why: "it is estimated at US$0.30, and this server's runs have already spent US$0.80 of FLORA_SPEND_LIMIT_USD (US$1.00)",
      },
      { kind: 'stop', why: 'an earlier start of this call (model b) would already cross FLORA_SPEND_LIMIT_USD' },
      { kind: 'stop', why: 'an earlier start of this call (model b) would already cross FLORA_SPEND_LIMIT_USD' },
    ]);
  });

  it('lets a start reach the spend limit exactly, despite floating-point sums (0.1 + 0.2 is not 0.3)', () => {
    expect(judge([pending('a', 0.2)], { maxRunUsd: undefined, spendLimitUsd: 0.3 }, 0.1)).toEqual([{ kind: 'go' }]);
  });

  it('asks about a start of unknown cost when only the spend limit is set: it cannot be held to it', () => {
    expect(judge([pending('a', null, 'No model.')], { maxRunUsd: undefined, spendLimitUsd: 10 }, 0)).toEqual([
      { kind: 'ask', why: 'its cost is unknown (No model.), so it cannot be held to FLORA_SPEND_LIMIT_USD' },
    ]);
  });

  it('lets a retry of a start already counted go without asking, whatever its estimate', () => {
    const retry = pending('model b', 0.9);
    const verdicts = judge([retry], { maxRunUsd: 0.1, spendLimitUsd: 0.5 }, 0.45, (k) => k === retry.idempotencyKey);
    expect(verdicts).toEqual([{ kind: 'go' }]);
  });
});

describe('authorize: a batch asks one question and stops at the spend limit', () => {
  it('asks once for every start over the per-run limit, listing each and the total; confirmed, all hold', async () => {
    const { asker, questions } = user('confirmed');
    const guard = guardOf({ maxRunUsd: 0.1, spendLimitUsd: 5 }, asker);
    const starts = [
      pending('model i2v-kling-2.5', 0.327),
      pending('model t2i-flux-2-pro', 0.04),
      pending('model t2v-kling-2', 0.4),
    ];
    starts.push(pending("the workspace's default model", null, 'No model was named.'));

    const out = await authorize(guard, starts, NO_SIGNAL);

    expect(questions).toEqual([
      "Start these 3 FLORA runs? model i2v-kling-2.5: estimated US$0.327; model t2v-kling-2: estimated US$0.40; the workspace's default model: cost unknown (No model was named.). Total US$0.727 plus 1 of unknown cost. Your per-run limit FLORA_MAX_RUN_USD is US$0.10; this server's FLORA runs have spent US$0.00 of FLORA_SPEND_LIMIT_USD US$5.00. Billed to your FLORA workspace.",
    ]);
    expect(out.map((a) => ('hold' in a ? 'hold' : 'refused'))).toEqual(['hold', 'hold', 'hold', 'hold']);
    // Held before anything is sent: the estimates count at once (the unknown one as nothing known).
    expect(guard.ledger.spentUsd()).toBe(0.767);
  });

  it('declined: the asked starts are refused as confirmation_declined and release their holds; the others hold', async () => {
    const { asker } = user('declined');
    const guard = guardOf({ maxRunUsd: 0.1 }, asker);
    const starts = [pending('model a', 0.327), pending('model b', 0.04)];

    const out = await authorize(guard, starts, NO_SIGNAL);

    const [first, second] = out;
    expect(first && 'refused' in first && first.refused.toPayload()).toEqual({
      code: 'confirmation_declined',
      message:
        'Not started: a run of model a: it is estimated at US$0.327, above FLORA_MAX_RUN_USD (US$0.10), so the user was asked to confirm it and declined. Nothing was sent to FLORA. Do not start it again unless the user asks you to.',
      retryable: false,
    });
    expect(second && 'hold' in second).toBe(true);
    expect(guard.ledger.spentUsd()).toBe(0.04);
  });

  it.each([
    ['cancelled', 'cancelled the question'],
    ['unanswered', 'no answer came back'],
  ] as const)('%s: refused as confirmation_declined, saying so', async (answer, words) => {
    const guard = guardOf({ maxRunUsd: 0.1 }, user(answer).asker);
    await expect(authorizeOne(guard, pending('model a', 0.327), NO_SIGNAL)).rejects.toMatchObject({
      code: 'confirmation_declined',
      message: expect.stringContaining(`the user was asked to confirm it and ${words}.`),
    });
    expect(guard.ledger.spentUsd()).toBe(0);
  });

  it('a client that cannot be asked: the starts over the per-run limit are refused as budget_exceeded, the rest hold', async () => {
    const guard = guardOf({ maxRunUsd: 0.1 }, CANNOT);
    const out = await authorize(guard, [pending('model a', 0.04), pending('model b', 0.327)], NO_SIGNAL);
    const refused = out[1] && 'refused' in out[1] ? out[1].refused : undefined;
    expect(refused?.toPayload()).toEqual({
      code: 'budget_exceeded',
      message:
        'Not started: a run of model b: it is estimated at US$0.327, above FLORA_MAX_RUN_USD (US$0.10). Such a run needs the user\'s confirmation, and this MCP client cannot show the user a question. Nothing was sent to FLORA. The user can raise FLORA_MAX_RUN_USD (or unset it) in the "env" block of this server in their MCP client config, then restart the client; tell the user, and do not try to work around it; or pick a cheaper option.',
      retryable: false,
    });
    expect(out[0] && 'hold' in out[0]).toBe(true);
    expect(guard.ledger.spentUsd()).toBe(0.04);
  });

  it('the spend limit stops the batch at the item that would cross it and says so; no question for stopped items', async () => {
    const { asker, questions } = user('confirmed');
    const guard = guardOf({ maxRunUsd: 0.3, spendLimitUsd: 1 }, asker);
    const starts = [pending('model a', 0.4), pending('model b', 0.4), pending('model c', 0.4), pending('model d', 0.1)];

    const out = await authorize(guard, starts, NO_SIGNAL);

    expect(questions).toHaveLength(1);
    expect(questions[0]).toContain(
      'Start these 2 FLORA runs? model a: estimated US$0.40; model b: estimated US$0.40. Total US$0.80.',
    );
    const refusals = out.map((a) => ('refused' in a ? a.refused.toPayload() : 'hold'));
    expect(refusals.slice(0, 2)).toEqual(['hold', 'hold']);
    expect(refusals[2]).toEqual({
      code: 'budget_exceeded',
      message:
        'Not started: a run of model c: it is estimated at US$0.40, and this server\'s runs have already spent US$0.80 of FLORA_SPEND_LIMIT_USD (US$1.00). Nothing was sent to FLORA. Spend is counted by this server process since it started. The user can raise FLORA_SPEND_LIMIT_USD in the "env" block of this server in their MCP client config, then restart the client; tell the user, and do not try to work around it.',
      retryable: false,
    });
    expect(refusals[3]).toMatchObject({
      code: 'budget_exceeded',
      message: expect.stringContaining('an earlier start of this call (model c) would already cross FLORA_SPEND_LIMIT_USD'),
    });
    expect(guard.ledger.spentUsd()).toBe(0.8);
  });

  it('two calls judged back to back cannot both pass a limit only one fits: the first one holds its estimate', async () => {
    const guard = guardOf({ spendLimitUsd: 0.5 }, CANNOT);
    const [first, second] = await Promise.all([
      authorize(guard, [pending('model a', 0.327)], NO_SIGNAL),
      authorize(guard, [pending('model b', 0.327)], NO_SIGNAL),
    ]);
    expect([first?.[0], second?.[0]].map((a) => (a && 'refused' in a ? a.refused.code : 'hold'))).toEqual([
      'hold',
      'budget_exceeded',
    ]);
  });

  it('a cancelled call while the user is asked releases every hold it took and rethrows', async () => {
    const failing: Asker = {
      ask: async () => {
        throw new FloraError('cancelled', 'The call was cancelled.');
      },
    };
    const guard = guardOf({ maxRunUsd: 0.1 }, failing);
    await expect(authorize(guard, [pending('model a', 0.04), pending('model b', 0.327)], NO_SIGNAL)).rejects.toMatchObject({
      code: 'cancelled',
    });
    expect(guard.ledger.spentUsd()).toBe(0);
  });
});

describe('the ledger', () => {
  it('counts a started run at the larger of its estimate and charged_cost, and polls update it', () => {
    const ledger = new SpendLedger();
    ledger.hold(pending('a', 0.04)).started('run_a', 0.02);
    expect(ledger.spentUsd()).toBe(0.04);
    ledger.observe('run_a', 0.09);
    expect(ledger.spentUsd()).toBe(0.09);
    // A poll without a cost, or of a run this account did not start, changes nothing.
    ledger.observe('run_a', null);
    ledger.observe('run_other', 5);
    expect(ledger.spentUsd()).toBe(0.09);
  });

  it('keeps a start counted when it may have started (its error names a key), releases it when nothing was', () => {
    const ledger = new SpendLedger();
    const maybe = pending('a', 0.04);
    ledger.hold(maybe).failed(new FloraError('timeout', 'No answer.', { idempotencyKey: maybe.idempotencyKey }));
    ledger.hold(pending('b', 0.5)).failed(new FloraError('insufficient_credits', 'Top up.'));
    ledger.hold(pending('c', 0.7)).release();
    expect(ledger.spentUsd()).toBe(0.04);
    expect(ledger.counts(maybe.idempotencyKey)).toBe(true);
    // The retry with that key holds nothing more, and its run then counts once.
    const retry = ledger.hold({ ...maybe });
    expect(ledger.spentUsd()).toBe(0.04);
    retry.started('run_a', 0.04);
    expect(ledger.spentUsd()).toBe(0.04);
  });

  it('settles a hold once: a second outcome changes nothing', () => {
    const ledger = new SpendLedger();
    const hold = ledger.hold(pending('a', 0.3));
    hold.release();
    hold.started('run_a', 0.3);
    expect(ledger.spentUsd()).toBe(0);
  });

  it('never counts an unknown cost as zero: it is listed as unpriced until FLORA charges something', () => {
    const ledger = new SpendLedger();
    ledger.hold(pending('a', null)).started('run_a', 0);
    expect(ledger.unpricedRuns()).toBe(1);
    ledger.observe('run_a', 0.25);
    expect(ledger.unpricedRuns()).toBe(0);
    expect(ledger.spentUsd()).toBe(0.25);
  });

  it('past its bound, folds the oldest runs into the total: nothing spent is forgotten', () => {
    const ledger = new SpendLedger(2);
    ledger.hold(pending('a', 0.1)).started('run_a', null);
    ledger.hold(pending('b', null)).started('run_b', null);
    ledger.hold(pending('c', 0.2)).started('run_c', null);
    ledger.hold(pending('d', 0.3)).started('run_d', null);
    expect(ledger.spentUsd()).toBe(0.6);
    expect(ledger.unpricedRuns()).toBe(1);
  });
});

describe('estimateOnly', () => {
  it('prices a start, says what it would meet, and holds nothing', () => {
    const guard = guardOf({ maxRunUsd: 0.1, spendLimitUsd: 10 }, CANNOT);
    const out = estimateOnly(guard, pending('model i2v-kling-2.5', 0.327));
    expect(out).toEqual({
      summary:
        "Estimate only: nothing was started or sent to FLORA. Estimated cost of a run of model i2v-kling-2.5: US$0.327 (the model's estimated_credits at about US$0.001 each: an approximation; FLORA settles the charge later). A start now would be refused (budget_exceeded): it is estimated at US$0.327, above FLORA_MAX_RUN_USD (US$0.10), and this MCP client cannot show the user a question.",
      estimated_usd: 0.327,
      spent_usd: 0,
      max_run_usd: 0.1,
      spend_limit_usd: 10,
    });
    expect(guard.ledger.spentUsd()).toBe(0);
  });
});

describe('the HTTP book: one ledger per key, keys never kept', () => {
  it('gives each key its own ledger, the same one on every request, and holds no key', () => {
    const book = new SpendBook();
    const a = book.ledgerOf('sk_live_alice_secret');
    a.hold(pending('x', 0.5)).started('run_x', 0.5);
    expect(book.ledgerOf('sk_live_alice_secret').spentUsd()).toBe(0.5);
    expect(book.ledgerOf('sk_live_bob_secret').spentUsd()).toBe(0);
    const state = inspect(book, { depth: 10, showHidden: true });
    expect(state).not.toContain('alice');
    expect(state).not.toContain('bob');
  });

  it('past its bound, drops ledgers that hold nothing, never one that spent', () => {
    const book = new SpendBook(2);
    book.ledgerOf('k1').hold(pending('x', 0.5)).started('run_x', 0.5);
    book.ledgerOf('k2');
    book.ledgerOf('k3');
    expect(book.size()).toBe(2);
    expect(book.ledgerOf('k1').spentUsd()).toBe(0.5);
  });
});

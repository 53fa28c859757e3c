/**
 * The spend guard: what a start is estimated to cost, what this server's runs have spent, and
 * whether the user's limits let a start go.
 *
 * - FLORA_MAX_RUN_USD: a start estimated above it, or of unknown cost, goes only once the user
 *   confirms; when the user cannot be asked, it is refused (budget_exceeded).
 * - FLORA_SPEND_LIMIT_USD: a start whose estimate would take spend past it is refused, and with
 *   it every later start of the same call (a batch stops at the item that would cross it).
 *
 * Spend is counted per account (one ledger per API key) as the larger of our estimate and FLORA's
 * latest charged_cost for each run this process started. A start holds its estimate in the
 * ledger from the moment it is judged, before anything is sent, so two concurrent starts cannot
 * both pass a limit only one fits; the hold becomes the run's entry once it started, stays when
 * it may have started (the error carries the idempotency_key to retry with), and is released when
 * nothing was sent or FLORA refused it. Unknown costs never count as zero: such a start is asked
 * about whenever a limit is set. Nothing here knows MCP: the question goes through an Asker.
 */
import { BudgetExceededError, ConfirmationDeclinedError, type FloraError } from '../errors.js';
import type { Model, Technique } from './schemas.js';
import { roundUsd, type SpendHold, type SpendLedger } from './spend-ledger.js';

/** FLORA measured about US$0.001 per credit (4 credits settled as 0.004): an approximation. */
export const USD_PER_CREDIT = 0.001;
/** FLORA's catalog reports 0 credits for the models behind this provider, and they are not free. */
const GATEWAY_PROVIDER = 'generation_gateway';

export interface Estimate {
  /** US dollars, or null when unknown. */
  usd: number | null;
  /** Why it is unknown, as a sentence; only when it is. */
  why?: string;
}

/** A generation's estimate: its model's estimated_credits at US$0.001 each. */
export function generationEstimate(model: string | undefined, catalog: readonly Model[] | undefined): Estimate {
  if (model === undefined) {
    return { usd: null, why: 'No model was named, so FLORA runs the workspace default, whose cost is unknown here.' };
  }
  if (catalog === undefined) return { usd: null, why: "FLORA's model catalog could not be read just now." };
  const entry = catalog.find((m) => m.model_id === model);
  const credits = entry?.estimated_credits;
  if (entry === undefined || credits === undefined) {
    return { usd: null, why: `FLORA's model catalog gives no estimated_credits for ${model}.` };
  }
  if (credits === 0 && entry.provider === GATEWAY_PROVIDER) {
    return {
      usd: null,
      why: `FLORA's catalog reports 0 credits for ${model}, which runs behind ${GATEWAY_PROVIDER}; FLORA measured such models as not free.`,
    };
  }
  return { usd: roundUsd(credits * USD_PER_CREDIT) };
}

/** A technique's estimate: its run_cost (USD per run). */
export function techniqueEstimate(techniqueId: string, technique: Technique | undefined): Estimate {
  if (technique === undefined) return { usd: null, why: `The definition of ${techniqueId} could not be read just now.` };
  const cost = technique.run_cost;
  if (cost === null || cost === undefined) return { usd: null, why: `FLORA gives no run_cost for ${techniqueId}.` };
  return { usd: cost };
}

export interface SpendLimits {
  /** FLORA_MAX_RUN_USD */
  maxRunUsd: number | undefined;
  /** FLORA_SPEND_LIMIT_USD */
  spendLimitUsd: number | undefined;
}

/** One start waiting for the guard's word. */
export interface PendingStart {
  /** What it starts, as the user reads it: "model i2v-kling-2.5", "technique Product shot (tech_product-shot)". */
  label: string;
  estimate: Estimate;
  /** The key its start sends: a retry with a key already counted is neither counted nor asked about again. */
  idempotencyKey: string;
}

/** The user's answer; unanswered: the question failed or timed out. */
export type Answer = 'confirmed' | 'declined' | 'cancelled' | 'unanswered';

/** How the user is asked (one question, one yes or no); or, when this client cannot be asked, why not. */
export type Asker = { ask(message: string, signal: AbortSignal): Promise<Answer> } | { cannotAsk: string };

/** What one account's starts are judged by. */
export interface SpendGuard {
  ledger: SpendLedger;
  limits: SpendLimits;
  asker: Asker;
}

export type Verdict = { kind: 'go' } | { kind: 'ask'; why: string } | { kind: 'stop'; why: string };

/** Floating sums of dollar amounts: compared with a margin far below a tenth of a cent. */
const EPSILON = 1e-9;

/**
 * The guard's word on each start, in order, given what is already spent: pure, no holds taken.
 * A start that would take spend past FLORA_SPEND_LIMIT_USD stops, and so does every start after
 * it; a start above FLORA_MAX_RUN_USD, or of unknown cost while any limit is set, is asked about.
 */
export function judge(
  starts: readonly PendingStart[],
  limits: SpendLimits,
  spentUsd: number,
  isCounted: (idempotencyKey: string) => boolean = () => false,
): Verdict[] {
  const { maxRunUsd, spendLimitUsd } = limits;
  let running = spentUsd;
  let stoppedAt: PendingStart | undefined;
  return starts.map((s): Verdict => {
    // A retry of a start already counted (it may have started) adds nothing and was judged before.
    if (isCounted(s.idempotencyKey)) return { kind: 'go' };
    const usd = s.estimate.usd;
    if (stoppedAt !== undefined) {
      return {
        kind: 'stop',
        why: `an earlier start of this call (${stoppedAt.label}) would already cross FLORA_SPEND_LIMIT_USD`,
      };
    }
    if (usd !== null && spendLimitUsd !== undefined && running + usd > spendLimitUsd + EPSILON) {
      stoppedAt = s;
      return {
        kind: 'stop',
        why: `it is estimated at ${formatUsd(usd)}, and this server's runs have already spent ${formatUsd(running)} of FLORA_SPEND_LIMIT_USD (${formatUsd(spendLimitUsd)})`,
      };
    }
    if (usd !== null) running += usd;
    if (usd === null && (maxRunUsd !== undefined || spendLimitUsd !== undefined)) {
      const limit = maxRunUsd === undefined ? 'FLORA_SPEND_LIMIT_USD' : 'FLORA_MAX_RUN_USD';
      return { kind: 'ask', why: `its cost is unknown (${s.estimate.why ?? 'no estimate'}), so it cannot be held to ${limit}` };
    }
    if (usd !== null && maxRunUsd !== undefined && usd > maxRunUsd + EPSILON) {
      return { kind: 'ask', why: `it is estimated at ${formatUsd(usd)}, above FLORA_MAX_RUN_USD (${formatUsd(maxRunUsd)})` };
    }
    return { kind: 'go' };
  });
}

export type Authorization = { start: PendingStart; hold: SpendHold } | { start: PendingStart; refused: FloraError };

/**
 * The guard's word on a call's starts, holds taken for those that may go. Every start over the
 * per-run limit is covered by one question; a refused start holds nothing. The caller passes each
 * hold to startOrRecover, or releases it when it does not start that item after all.
 */
export async function authorize(
  guard: SpendGuard,
  starts: readonly PendingStart[],
  signal: AbortSignal,
): Promise<Authorization[]> {
  const { ledger } = guard;
  // Judged and held in one synchronous step: no other call's start can come in between.
  const spent = ledger.spentUsd();
  const verdicts = judge(starts, guard.limits, spent, (k) => ledger.counts(k));
  const holds = starts.map((s, i) => (verdicts[i]?.kind === 'stop' ? undefined : ledger.hold(s)));
  const asked = starts.flatMap((s, i) => {
    const v = verdicts[i];
    return v?.kind === 'ask' ? [{ start: s, why: v.why }] : [];
  });
  let answer: Answer | 'cannot' | undefined;
  if (asked.length > 0) {
    if ('cannotAsk' in guard.asker) answer = 'cannot';
    else {
      try {
        answer = await guard.asker.ask(question(guard.limits, spent, asked), signal);
      } catch (err) {
        for (const h of holds) h?.release();
        throw err;
      }
    }
  }
  return starts.map((start, i): Authorization => {
    const verdict = verdicts[i] as Verdict;
    const hold = holds[i];
    if (verdict.kind === 'go' || (verdict.kind === 'ask' && answer === 'confirmed')) return { start, hold: hold as SpendHold };
    hold?.release();
    return { start, refused: refusal(guard, start, verdict, answer) };
  });
}

/** authorize for one start: its hold, or its refusal thrown. */
export async function authorizeOne(guard: SpendGuard, start: PendingStart, signal: AbortSignal): Promise<SpendHold> {
  const [decided] = await authorize(guard, [start], signal);
  if (decided === undefined || 'refused' in decided) throw (decided as { refused: FloraError }).refused;
  return decided.hold;
}

/** The question the user sees: what would start, at what estimate, against which limit. */
function question(limits: SpendLimits, spentUsd: number, asked: ReadonlyArray<{ start: PendingStart; why: string }>): string {
  const { maxRunUsd, spendLimitUsd } = limits;
  const standing = [
    maxRunUsd === undefined ? undefined : `your per-run limit FLORA_MAX_RUN_USD is ${formatUsd(maxRunUsd)}`,
    spendLimitUsd === undefined
      ? undefined
      : `this server's FLORA runs have spent ${formatUsd(spentUsd)} of FLORA_SPEND_LIMIT_USD ${formatUsd(spendLimitUsd)}`,
  ].filter(Boolean);
  const cost = (s: PendingStart) =>
    s.estimate.usd === null ? `cost unknown (${s.estimate.why ?? 'no estimate'})` : `estimated ${formatUsd(s.estimate.usd)}`;
  const tail = `${capitalize(standing.join('; '))}. Billed to your FLORA workspace.`;
  const only = asked.length === 1 ? asked[0] : undefined;
  if (only !== undefined) return `Start a FLORA run of ${only.start.label}? ${capitalize(cost(only.start))}. ${tail}`;
  const known = asked.flatMap((a) => (a.start.estimate.usd === null ? [] : [a.start.estimate.usd]));
  const unknown = asked.length - known.length;
  const total = `Total ${formatUsd(known.reduce((a, b) => a + b, 0))}${unknown > 0 ? ` plus ${unknown} of unknown cost` : ''}`;
  return `Start these ${asked.length} FLORA runs? ${asked.map((a) => `${a.start.label}: ${cost(a.start)}`).join('; ')}. ${total}. ${tail}`;
}

const RAISE =
  'in the "env" block of this server in their MCP client config, then restart the client; tell the user, and do not try to work around it';

function refusal(guard: SpendGuard, start: PendingStart, verdict: Verdict, answer: Answer | 'cannot' | undefined): FloraError {
  const what = `Not started: a run of ${start.label}`;
  if (verdict.kind === 'stop') {
    return BudgetExceededError.of(
      `${what}: ${verdict.why}. Nothing was sent to FLORA. Spend is counted by this server process since it started. The user can raise FLORA_SPEND_LIMIT_USD ${RAISE}.`,
    );
  }
  const why = verdict.kind === 'ask' ? verdict.why : 'it needs confirmation';
  if (answer === 'cannot') {
    const asker = guard.asker as { cannotAsk: string };
    return BudgetExceededError.of(
      `${what}: ${why}. Such a run needs the user's confirmation, and ${asker.cannotAsk}. Nothing was sent to FLORA. The user can raise FLORA_MAX_RUN_USD (or unset it) ${RAISE}; or pick a cheaper option.`,
    );
  }
  const how = answer === 'cancelled' ? 'cancelled the question' : answer === 'unanswered' ? 'no answer came back' : 'declined';
  return ConfirmationDeclinedError.of(
    `${what}: ${why}, so the user was asked to confirm it and ${how}. Nothing was sent to FLORA. Do not start it again unless the user asks you to.`,
  );
}

/** "US$0.327", "US$0.10", "US$12.50": at least cents, at most a hundredth of a cent. */
export function formatUsd(usd: number): string {
  const cents = usd.toFixed(2);
  const fine = String(Math.round(usd * 1e4) / 1e4);
  return `US$${fine.length > cents.length ? fine : cents}`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** What every start result says of money: the estimate and, when a limit is set, spend and the limits. */
// A type, not an interface: results are records of the output schema (an index signature).
export type SpendFields = {
  estimated_usd: number | null;
  spent_usd?: number;
  /** Runs counted whose cost is unknown (spent_usd leaves them out). */
  unpriced_runs?: number;
  max_run_usd?: number;
  spend_limit_usd?: number;
};

export function spendFields(guard: SpendGuard, estimate: Estimate): SpendFields {
  const { maxRunUsd, spendLimitUsd } = guard.limits;
  if (maxRunUsd === undefined && spendLimitUsd === undefined) return { estimated_usd: estimate.usd };
  const unpriced = guard.ledger.unpricedRuns();
  return {
    estimated_usd: estimate.usd,
    spent_usd: guard.ledger.spentUsd(),
    ...(unpriced > 0 ? { unpriced_runs: unpriced } : {}),
    ...(maxRunUsd === undefined ? {} : { max_run_usd: maxRunUsd }),
    ...(spendLimitUsd === undefined ? {} : { spend_limit_usd: spendLimitUsd }),
  };
}

/** estimate_only: the estimate, the limits, and what a start now would meet; nothing held or sent. */
export function estimateOnly(guard: SpendGuard, start: PendingStart): SpendFields & { summary: string } {
  const { usd, why } = start.estimate;
  const price =
    usd === null
      ? `Estimated cost of a run of ${start.label}: unknown. ${why ?? ''}`
      : `Estimated cost of a run of ${start.label}: ${formatUsd(usd)}${start.label.startsWith('model ') ? " (the model's estimated_credits at about US$0.001 each: an approximation; FLORA settles the charge later)" : ' (its run_cost)'}.`;
  const verdict = judge([start], guard.limits, guard.ledger.spentUsd(), (k) => guard.ledger.counts(k))[0] as Verdict;
  let next = 'Within the limits: a start now would go ahead without asking.';
  if (verdict.kind === 'stop') next = `A start now would be refused (budget_exceeded): ${verdict.why}.`;
  else if (verdict.kind === 'ask') {
    next =
      'cannotAsk' in guard.asker
        ? `A start now would be refused (budget_exceeded): ${verdict.why}, and ${guard.asker.cannotAsk}.`
        : `A start now would first ask the user to confirm: ${verdict.why}.`;
  }
  return {
    summary: `Estimate only: nothing was started or sent to FLORA. ${price.trim()} ${next}`,
    ...spendFields(guard, start.estimate),
  };
}

/** Several starts' estimates as one: the sum, or unknown when any of them is (unknown is never zero). */
export function sumEstimates(estimates: readonly Estimate[]): Estimate {
  const unknown = estimates.filter((e) => e.usd === null).length;
  if (unknown > 0) return { usd: null, why: `${unknown} of ${estimates.length} start(s) have no estimate` };
  return { usd: roundUsd(estimates.reduce((sum, e) => sum + (e.usd as number), 0)) };
}

/** A batch's money fields: its total estimate, and spend and the limits when any is set. */
export function spendTotals(guard: SpendGuard, estimates: readonly Estimate[]): SpendFields {
  return spendFields(guard, sumEstimates(estimates));
}

/** What a start now would meet, as an agent reads it. */
type Would = 'start' | 'ask the user' | 'be refused (budget_exceeded)';

/** estimate_only for a batch: each item's estimate and what a start now would meet; nothing held or sent. */
export function estimateOnlyMany(
  guard: SpendGuard,
  starts: readonly PendingStart[],
): { summary: string; items: Array<{ estimated_usd: number | null; would: Would; why?: string }>; totals: SpendFields } {
  const verdicts = judge(starts, guard.limits, guard.ledger.spentUsd(), (k) => guard.ledger.counts(k));
  const items = starts.map((s, i) => {
    const v = verdicts[i] as Verdict;
    const would: Would =
      v.kind === 'go'
        ? 'start'
        : v.kind === 'ask' && !('cannotAsk' in guard.asker)
          ? 'ask the user'
          : 'be refused (budget_exceeded)';
    return { estimated_usd: s.estimate.usd, would, ...(v.kind === 'go' ? {} : { why: v.why }) };
  });
  const totals = spendTotals(
    guard,
    starts.map((s) => s.estimate),
  );
  const total = totals.estimated_usd === null ? 'unknown (some items have no estimate)' : formatUsd(totals.estimated_usd);
  const asks = items.filter((i) => i.would === 'ask the user').length;
  const refused = items.filter((i) => i.would !== 'start' && i.would !== 'ask the user').length;
  const next =
    asks + refused === 0
      ? 'Within the limits: a start now would go ahead without asking.'
      : `A start now would ${[asks > 0 ? `ask the user about ${asks} item(s) in one question` : '', refused > 0 ? `refuse ${refused} item(s)` : ''].filter(Boolean).join(' and ')}: see each item's why.`;
  return {
    summary: `Estimate only: nothing was started or sent to FLORA. ${starts.length} item(s), estimated at ${total} in all (model estimated_credits at about US$0.001 each: an approximation). ${next}`,
    items,
    totals,
  };
}

import { newIdempotencyKey } from '../../flora/start.js';
import * as z from 'zod';
import { CancelledError, FloraError } from '../../errors.js';
import type { GenerateBody } from '../../flora/schemas.js';
import { authorize, estimateOnlyMany, type SpendFields, spendTotals } from '../../flora/spend.js';
import type { SpendHold } from '../../flora/spend-ledger.js';
import { estimateOnlyField, waitSecondsField } from '../fields.js';
import {
  type GenerationStarted,
  generationFields,
  type PreparedGeneration,
  prepareGeneration,
  startGeneration,
} from '../generation/start-one.js';
import { waitForRuns, type WatchedRun } from '../runs/wait-many.js';
import { defineTool, type ToolContext, type ToolOptions, unexpectedError } from '../tool.js';
import { BATCH_PACING, type BatchPacing, notStarted, StartScheduler } from './pacing.js';
import { isUnread, presentRuns, type RunEntry, runsSummary } from './present-runs.js';

/** FLORA's own hosted server takes 1-20 generations per call. */
export const MAX_BATCH = 20;

type Item = GenerateBody & { idempotency_key?: string };

/** One item's place in the answer: its run, or why it has none. */
type ItemEntry = { index: number } & (RunEntry | Record<string, unknown>);

type BatchResult = SpendFields & {
  [key: string]: unknown;
  summary: string;
  started: number;
  failed: number;
  runs: ItemEntry[];
  /** With wait_seconds: whether every started run has finished, and if not which have not. */
  done?: boolean;
  still_running?: string[];
  next_poll_seconds?: number;
};

/** Items may carry their own idempotency_key (a retry); two items with one key would be one run. */
function distinctKeys(items: ReadonlyArray<{ idempotency_key?: string | undefined }>, ctx: z.RefinementCtx): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const key = item.idempotency_key;
    if (key === undefined) return;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else
      ctx.addIssue({ code: 'custom', path: [i, 'idempotency_key'], message: `repeats item ${first}'s; each item needs its own` });
  });
}

/** The items' fields, named for the model (the published item schema is a bare object). */
function itemsDescription(options: ToolOptions): string {
  const id = (name: string, fallback: string | undefined) => (fallback === undefined ? name : `${name} (default ${fallback})`);
  return `Items {prompt, type (image|video|audio|text), model?, params?, ${id('project_id', options.defaultProjectId)}, ${id(
    'workspace_id',
    options.defaultWorkspaceId,
  )}, callback_url?, idempotency_key? (retries only)}.`;
}

export const startGenerationBatch = (options: ToolOptions, pacing: BatchPacing = BATCH_PACING) =>
  defineTool({
    name: 'start_generation_batch',
    title: 'Start FLORA generations (billed)',
    description:
      'Starts 1-20 generations as start_generation_run (checked, billed; 6 at once, Krea 5 s apart). runs: run_id or error per item, in order. Then poll_runs.',
    inputSchema: z.strictObject({
      generations: z
        // Published compactly (the tools/list budget); each item is held to start_generation_run's own fields.
        .array(z.record(z.string(), z.unknown()).pipe(z.strictObject(generationFields(options))))
        .min(1)
        .max(MAX_BATCH, `at most ${MAX_BATCH} generations per call: split the batch`)
        .superRefine(distinctKeys)
        .describe(itemsDescription(options)),
      wait_seconds: waitSecondsField(options.maxWaitSeconds, 'all'),
      estimate_only: estimateOnlyField(),
    }),
    outputSchema: z.looseObject({ summary: z.string(), runs: z.array(z.unknown()) }),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args, ctx) {
      const began = Date.now();
      const items: Item[] = args.generations;
      const keys = items.map((item) => item.idempotency_key ?? newIdempotencyKey());
      // Every item checked and priced first, so the spend guard judges the batch as a whole: one
      // question for the items it must ask about, and a stop at the item that would cross the limit.
      const prepared = await Promise.all(
        items.map(({ idempotency_key: _own, ...body }, i) =>
          prepareGeneration(ctx, body, keys[i]!).catch((err: unknown) => itemError(ctx, err)),
        ),
      );
      const ready = prepared.flatMap((p, index) => (p instanceof FloraError ? [] : [{ index, p }]));
      if (args.estimate_only) {
        const estimates = estimateOnlyMany(
          ctx.spend,
          ready.map(({ p }) => p.pending),
        );
        const estimateOf = new Map(ready.map(({ index }, k) => [index, estimates.items[k]]));
        const runs: ItemEntry[] = prepared.map((p, index) =>
          p instanceof FloraError ? { index, error: p.toPayload() } : { index, ...estimateOf.get(index) },
        );
        const failed = prepared.length - ready.length;
        const refusedNote = failed > 0 ? ` ${failed} item(s) would be refused before any cost: see their errors.` : '';
        return { structured: { ...estimates.totals, summary: estimates.summary + refusedNote, runs } };
      }
      const authorized = await authorize(
        ctx.spend,
        ready.map(({ p }) => p.pending),
        ctx.signal,
      );
      const verdictOf = new Map(ready.map(({ index }, k) => [index, authorized[k]!]));
      // Per item: refused (nothing will be sent), or its prepared start and the guard's hold on it.
      const plan = prepared.map((p, index): FloraError | { prepared: PreparedGeneration; hold: SpendHold } => {
        if (p instanceof FloraError) return p;
        const verdict = verdictOf.get(index)!; // every item that was prepared was judged
        return 'refused' in verdict ? verdict.refused : { prepared: p, hold: verdict.hold };
      });

      const scheduler = new StartScheduler(pacing, ctx.signal);
      const outOfCredits = new Map<string, number>();
      ctx.progress(0, `starting ${items.length} generation(s)`);
      // Only what the guard let through is scheduled: a refused item takes no turn and waits for none.
      const runnable = plan.flatMap((step, index) => (step instanceof FloraError ? [] : [{ index, ...step }]));
      const ran = await scheduler.run(
        runnable.length,
        (j) => pacing.pacedModel.test(items[runnable[j]!.index]!.model ?? ''),
        (j) => {
          const { index, prepared, hold } = runnable[j]!;
          return startItem(ctx, prepared, hold, index, scheduler, outOfCredits);
        },
      );
      // Items never sent (out of time, cancelled, stopped after a 402, throttled to the end) give
      // their hold back; a settled hold ignores this.
      for (const { hold } of runnable) hold.release();
      const ranOf = new Map(runnable.map(({ index }, j) => [index, ran[j]!]));
      const outcomes = plan.map((step, index): GenerationStarted | FloraError => {
        if (step instanceof FloraError) return step;
        const done = ranOf.get(index)!;
        return done.ok ? done.value : itemError(ctx, done.error);
      });
      const started = outcomes.flatMap((o, index) => (o instanceof FloraError ? [] : [{ index, ...o }]));
      if (ctx.signal.aborted) throw cancelled(ctx, started);

      const result: BatchResult = {
        summary: batchSummary(outcomes),
        started: started.length,
        failed: outcomes.length - started.length,
        ...spendTotals(
          ctx.spend,
          started.map((s) => ({ usd: s.estimatedUsd })),
        ),
        runs: outcomes.map((o, index) =>
          o instanceof FloraError
            ? { index, error: o.toPayload() }
            : {
                index,
                ...startedFields(o),
              },
        ),
      };
      if (started.length === 0) return { structured: result };
      if (!args.wait_seconds) {
        result.summary += ` Next: poll_runs with their run_ids and wait_seconds up to ${options.maxWaitSeconds}.`;
        return { structured: result };
      }

      const watched: WatchedRun[] = started.map((s) => ({
        where: { runId: s.started.run_id },
        projectId: items[s.index]!.project_id,
        // A recovered run is read at once: nothing is known of its state.
        state: s.recovered ? undefined : { run_id: s.started.run_id, status: 'pending', progress: 0, created_at: s.startedAtMs },
      }));
      const waited = await waitForRuns(ctx, watched, began + args.wait_seconds * 1000).catch((err: unknown) => {
        ctx.log.warn(
          `call cancelled while waiting; runs ${started.map((s) => s.started.run_id).join(', ')} keep running in FLORA`,
        );
        throw err;
      });
      const view = presentRuns(ctx, watched, waited, options.maxWaitSeconds);
      started.forEach((s, k) => {
        const entry = view.entries[k]!;
        if (!isUnread(entry)) {
          result.runs[s.index] = { index: s.index, ...startedFields(s), ...entry };
          return;
        }
        // The run exists (it started) but could not be read: not an item error, a run to look at again.
        const { code, message } = entry.error;
        result.runs[s.index] = {
          index: s.index,
          ...startedFields(s),
          status: 'unknown',
          done: false,
          poll_error: { code, message },
        };
        view.stillRunning.push(entry.run_id);
      });
      result.summary += ` ${runsSummary(view, options.maxWaitSeconds)}`;
      result.done = view.stillRunning.length === 0;
      if (!result.done) {
        result.still_running = view.stillRunning;
        result.next_poll_seconds = view.nextPollSeconds;
      }
      return { structured: result, extraContent: view.blocks };
    },
  });

/**
 * One item, through the one generation start. After FLORA says a workspace is out of credits, its
 * remaining items are not sent (FLORA's advice: stop the batch; they would fail the same way).
 */
async function startItem(
  ctx: ToolContext,
  prepared: PreparedGeneration,
  hold: SpendHold,
  index: number,
  scheduler: StartScheduler,
  outOfCredits: Map<string, number>,
): Promise<GenerationStarted> {
  const { body } = prepared;
  const by = outOfCredits.get(body.workspace_id);
  if (by !== undefined) {
    throw notStarted(
      `Not started: FLORA answered insufficient_credits to item ${by} (same workspace), so the batch stopped there. Once the user has topped up, start it again.`,
      false,
    );
  }
  const onRateLimited = (retryAfterSeconds: number | undefined) => {
    ctx.log.warn(`start_generation_batch: FLORA answered 429 to item ${index}; ${scheduler.rateLimited(retryAfterSeconds)}`);
  };
  return startGeneration(ctx, prepared, throttleSafe(hold), { onRateLimited }).catch((err: unknown) => {
    if (err instanceof FloraError && err.code === 'insufficient_credits' && !outOfCredits.has(body.workspace_id)) {
      outOfCredits.set(body.workspace_id, index);
    }
    throw err;
  });
}

/**
 * The item's hold, kept open through a 429 (FLORA took nothing, and the scheduler may send the
 * item again under the same hold); the batch releases what is left open once every item is done.
 */
function throttleSafe(hold: SpendHold): SpendHold {
  return {
    started: (runId, chargedCost) => hold.started(runId, chargedCost),
    failed: (err) => {
      if (!(err instanceof FloraError && err.code === 'rate_limited')) hold.failed(err);
    },
    release: () => hold.release(),
  };
}

/** An item's failure as the agent reads it; a bug in one item must not lose the others' runs. */
function itemError(ctx: ToolContext, err: unknown): FloraError {
  if (err instanceof FloraError) return err;
  ctx.log.error('start_generation_batch: an item failed unexpectedly', err);
  return unexpectedError(err);
}

/** A started item, as the start told it (the run's state comes from polling). */
function startedFields(s: GenerationStarted): Record<string, unknown> {
  const { started, recovered, warnings } = s;
  return {
    run_id: started.run_id,
    charged_cost: started.charged_cost,
    estimated_seconds: started.estimated_seconds,
    estimated_usd: s.estimatedUsd,
    ...(started.model?.model_id ? { model: started.model.model_id } : {}),
    ...(recovered ? { recovered: true } : {}),
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

function batchSummary(outcomes: ReadonlyArray<GenerationStarted | FloraError>): string {
  const ok = outcomes.filter((o): o is GenerationStarted => !(o instanceof FloraError));
  const quotes = ok.map((o) => o.started.charged_cost).filter((c): c is number => c !== null);
  const cost =
    quotes.length === 0
      ? 'cost not yet known'
      : `quoted US$${quotes.reduce((a, b) => a + b, 0).toFixed(3)}${quotes.length < ok.length ? ' for those quoted' : ''}; FLORA settles the final charge later`;
  let text = `Started ${ok.length} of ${outcomes.length} generation(s) (${cost}).`;
  const recovered = ok.filter((o) => o.recovered).length;
  if (recovered > 0) text += ` ${recovered} start answer(s) were lost and their runs found in the project's history instead.`;
  const failures = outcomes.flatMap((o, i) => (o instanceof FloraError ? [`item ${i} ${o.code}`] : []));
  if (failures.length > 0) {
    text += ` Failed: ${failures.join(', ')}; the others are unaffected. Each error says what to do; retry an item only on its own, with its idempotency_key when the error has one.`;
  }
  if (ok.some((o) => o.warnings.length > 0)) text += ' Read warnings: some runs may not use their input media as given.';
  return text;
}

/** The call was cancelled: the runs already started keep running in FLORA, so their IDs go to the log. */
function cancelled(ctx: ToolContext, started: ReadonlyArray<{ started: { run_id: string } }>): CancelledError {
  const ids = started.map((s) => s.started.run_id).join(', ') || 'none';
  ctx.log.warn(`start_generation_batch cancelled; runs started and still running in FLORA: ${ids}`);
  return CancelledError.of('The call was cancelled by the client.');
}

/**
 * Pre-flight checks of a start against FLORA's model catalog. FLORA rejects an unknown model for
 * free, but it silently accepts an unknown param value, runs with its default and bills it; so
 * the model and its params are checked here, before POST /generate, with errors that name what
 * is valid. The catalog is cached (10 min) and concurrent callers share one fetch. When it cannot
 * be fetched the check is skipped: it must never block a valid call. Media params (image_url …),
 * which the catalog often does not list, are judged by media-inputs.ts.
 */
import { FloraError, type FieldIssue } from '../errors.js';
import type { Logger } from '../log.js';
import type { FloraClient } from './client.js';
import { MEDIA_PARAMS, MediaValueCheck, mediaKindOf, mediaParamRules } from './media-inputs.js';
import type { GenerateBody, Model } from './schemas.js';

const CATALOG_TTL_MS = 10 * 60_000;
/** After a failed fetch, calls go ahead unchecked for this long before trying again. */
const FAILURE_TTL_MS = 60_000;
/** A pre-flight lookup must not hold a start up for long. */
export const LOOKUP_TIMEOUT_MS = 5_000;

export class ModelCatalog {
  private models: Model[] | undefined;
  private fetchedAt = 0;
  private failedAt = -Infinity;
  private inFlight: Promise<Model[] | undefined> | undefined;

  constructor(
    private readonly client: FloraClient,
    private readonly log: Logger,
    private readonly ttlMs = CATALOG_TTL_MS,
    /** Test seam: how long one lookup may take (tests shrink it so a hang costs them little). */
    private readonly lookupTimeoutMs = LOOKUP_TIMEOUT_MS,
  ) {}

  /** The catalog, or undefined when it cannot be had now. Never throws. */
  get(): Promise<Model[] | undefined> {
    const now = Date.now();
    if (this.models && now - this.fetchedAt < this.ttlMs) return Promise.resolve(this.models);
    if (now - this.failedAt < FAILURE_TTL_MS) return Promise.resolve(undefined);
    // Not tied to one caller's signal: other callers share this fetch.
    this.inFlight ??= this.client
      .listModels(undefined, { timeoutMs: this.lookupTimeoutMs, maxRetries: 0 })
      .then(
        ({ models }) => {
          this.models = models;
          this.fetchedAt = Date.now();
          return models;
        },
        (err: unknown) => {
          this.failedAt = Date.now();
          this.log.warn(`model catalog unavailable, starting without pre-flight checks: ${(err as Error).message}`);
          return undefined;
        },
      )
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }
}

/**
 * Refuses, before anything is sent, a start FLORA would reject or silently bill wrongly. Returns
 * warnings for the agent about what may still go wrong (e.g. a media URL FLORA may not fetch).
 */
export function preflight(body: GenerateBody, models: readonly Model[]): string[] {
  if (body.model === undefined) return []; // the workspace default: nothing to check against
  const sameType = models.filter((m) => m.type === body.type);
  const model = models.find((m) => m.model_id === body.model);
  if (!model || model.type !== body.type) {
    const suggestions = closest(
      body.model,
      sameType.map((m) => m.model_id),
    ).slice(0, 8);
    const what = model ? `Model "${body.model}" makes ${model.type}, not ${body.type}` : `Unknown model "${body.model}"`;
    const valid = suggestions.length
      ? `${body.type} models, closest first: ${suggestions.join(', ')}`
      : `no ${body.type} model is available to this key`;
    refuse(`${what}. Use a model_id from list_models; ${valid}.`, [{ field: 'model', message: `${what}; ${valid}` }]);
  }
  const { fields, warnings } = checkParams(body.params ?? {}, model);
  if (fields.length > 0) {
    refuse(`params do not fit model ${model.model_id}: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}.`, fields);
  }
  return warnings;
}

function refuse(message: string, fields: FieldIssue[]): never {
  throw new FloraError(
    'input_validation_error',
    `${message} Checked by this server against FLORA's model catalog; nothing was sent to FLORA and nothing was billed.`,
    { fields, retryable: false },
  );
}

function checkParams(params: Record<string, unknown>, model: Model): { fields: FieldIssue[]; warnings: string[] } {
  const specs = new Map(model.params.map((p) => [p.name, p]));
  const media = mediaParamRules(model);
  // The catalog's names, then the media names the model honours that the catalog leaves out.
  const accepted = [
    ...specs.keys(),
    ...[...media].filter(([name, rule]) => rule.verdict !== 'refuse' && !specs.has(name)).map(([name]) => name),
  ];
  const fields: FieldIssue[] = [];
  const values = new MediaValueCheck();
  for (const [name, value] of Object.entries(params)) {
    const field = `params.${name}`;
    const spec = specs.get(name);
    if (spec) {
      // The catalog's word stands; a media param must still be a URL.
      const problem = checkValue(value, spec);
      if (problem) fields.push({ field, message: problem });
      else if (mediaKindOf(name)) fields.push(...values.check(field, value, 'either'));
      continue;
    }
    const rule = media.get(name);
    if (!rule) {
      fields.push({ field, message: unknownParam(name, model, accepted) });
      continue;
    }
    if (rule.verdict === 'refuse') {
      fields.push({ field, message: rule.reason });
      continue;
    }
    if (rule.verdict === 'warn') values.note(field, rule.reason);
    fields.push(...values.check(field, value, rule.shape));
  }
  for (const spec of model.params) {
    if (spec.required && spec.default === undefined && (!Object.hasOwn(params, spec.name) || params[spec.name] === null)) {
      fields.push({ field: `params.${spec.name}`, message: 'required by this model' });
    }
  }
  return { fields, warnings: values.warnings() };
}

function unknownParam(name: string, model: Model, accepted: readonly string[]): string {
  const base = accepted.length
    ? `unknown parameter; ${model.model_id} accepts ${accepted.join(', ')}`
    : `${model.model_id} takes no params`;
  const kind = mediaKindOf(name)?.kind;
  if (!kind) return base;
  const names = `${MEDIA_PARAMS[kind].one}/${MEDIA_PARAMS[kind].many}`;
  return `${base}. It takes no input ${kind} (${names}): pick a model whose list_models entry has inputs ["${kind}"]`;
}

function checkValue(value: unknown, spec: Model['params'][number]): string | undefined {
  if (value === null || value === undefined) return undefined;
  const options = spec.options ?? [];
  if (options.length > 0 && !options.some((o) => sameValue(o.value, value))) {
    return `must be one of ${options.map((o) => JSON.stringify(o.value)).join(', ')} (got ${JSON.stringify(value)})`;
  }
  const type = spec.type.replace(/\?$/, '');
  if (type === 'int' || type === 'seed') {
    if (typeof value !== 'number' || !Number.isInteger(value)) return `must be an integer (got ${JSON.stringify(value)})`;
  } else if (type === 'float') {
    if (typeof value !== 'number') return `must be a number (got ${JSON.stringify(value)})`;
  } else if (type === 'bool') {
    if (typeof value !== 'boolean') return `must be true or false (got ${JSON.stringify(value)})`;
  } else if (type === 'string') {
    if (typeof value !== 'string') return `must be a string (got ${JSON.stringify(value)})`;
  } else if (type === 'string[]') {
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return 'must be a list of strings';
  }
  if (typeof value === 'number') {
    if (typeof spec.min === 'number' && value < spec.min) return `must be at least ${spec.min} (got ${value})`;
    if (typeof spec.max === 'number' && value > spec.max) return `must be at most ${spec.max} (got ${value})`;
  }
  return undefined;
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/** Candidates ordered by edit distance to `target` (ties keep catalog order). */
export function closest(target: string, candidates: readonly string[]): string[] {
  return candidates
    .map((c, i) => ({ c, i, d: editDistance(target.toLowerCase(), c.toLowerCase()) }))
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .map((x) => x.c);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * Technique definitions (GET /techniques/{id}) for the pre-flight check of a run, cached as the
 * model catalog is: 10 min per technique, concurrent callers share one fetch, 5 s cap, no retries.
 * When a definition cannot be had the run goes ahead unchecked, and it is tried again a minute
 * later: the check must never block a valid call. Only FLORA's own answer that the technique
 * does not exist (404) ends the call, since the run would be refused the same way.
 */
import { FloraError } from '../errors.js';
import type { Logger } from '../log.js';
import { LOOKUP_TIMEOUT_MS } from './catalog.js';
import type { FloraClient } from './client.js';
import type { Technique } from './schemas.js';

const TTL_MS = 10 * 60_000;
/** After a failed fetch, runs of that technique go ahead unchecked for this long. */
const FAILURE_TTL_MS = 60_000;
/** Techniques remembered at once; the oldest goes first. */
const LIMIT = 200;

export class TechniqueCatalog {
  private readonly known = new Map<string, { technique: Technique; at: number }>();
  private readonly failedAt = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<Technique | undefined>>();

  constructor(
    private readonly client: FloraClient,
    private readonly log: Logger,
    private readonly ttlMs = TTL_MS,
    /** Test seam, as ModelCatalog's. */
    private readonly lookupTimeoutMs = LOOKUP_TIMEOUT_MS,
  ) {}

  /** The definition, or undefined when it cannot be had now. Throws only FLORA's not_found. */
  get(techniqueId: string): Promise<Technique | undefined> {
    const now = Date.now();
    const hit = this.known.get(techniqueId);
    if (hit && now - hit.at < this.ttlMs) return Promise.resolve(hit.technique);
    if (now - (this.failedAt.get(techniqueId) ?? -Infinity) < FAILURE_TTL_MS) return Promise.resolve(undefined);
    let pending = this.inFlight.get(techniqueId);
    if (!pending) {
      // Not tied to one caller's signal: other callers share this fetch.
      pending = this.client
        .getTechnique(techniqueId, { timeoutMs: this.lookupTimeoutMs, maxRetries: 0 })
        .then(
          (technique) => {
            bounded(this.known, techniqueId, { technique, at: Date.now() });
            this.failedAt.delete(techniqueId);
            return technique;
          },
          (err: unknown) => {
            if (err instanceof FloraError && err.code === 'not_found') {
              throw err.retold(
                `${err.message} No technique "${techniqueId}" is visible to this key: take a technique_id from list_techniques. Nothing was started or billed.`,
              );
            }
            bounded(this.failedAt, techniqueId, Date.now());
            this.log.warn(
              `technique ${techniqueId} unavailable, running it without pre-flight checks: ${(err as Error).message}`,
            );
            return undefined;
          },
        )
        .finally(() => this.inFlight.delete(techniqueId));
      this.inFlight.set(techniqueId, pending);
    }
    return pending;
  }
}

function bounded<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > LIMIT) map.delete(map.keys().next().value as string);
}

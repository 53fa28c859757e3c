/**
 * What this server learned about the runs it started: when each started and FLORA's estimate,
 * to schedule later polls, to tell the runs other calls already answered from a lost one, and
 * for a technique run its technique (technique runs are polled under it), for a generation its
 * project (its runs are polled by the project's list); and the route each
 * technique start's idempotency key went out on, since FLORA knows a key only on its own route.
 * Bounded: the oldest entry goes first.
 */
export interface RememberedRun {
  estimatedSeconds: number | null;
  startedAtMs: number;
  techniqueId?: string;
  /** A generation's project: its runs are polled many at once through the project's list. */
  projectId?: string;
}

/** Where a remembered run lives: a technique run under its technique, a generation in its project. */
export type RunPlace = Pick<RememberedRun, 'techniqueId' | 'projectId'>;

export class RunMemory {
  private readonly runs = new Map<string, RememberedRun>();
  private readonly keyRoutes = new Map<string, string>();
  constructor(private readonly limit = 1_000) {}

  remember(runId: string, estimatedSeconds: number | null, startedAtMs: number, place: RunPlace = {}): void {
    bounded(this.runs, runId, { estimatedSeconds, startedAtMs, ...place }, this.limit);
  }

  /** A start's key went out on this route: a retry with the key must take the same one. */
  rememberKeyRoute(idempotencyKey: string, route: string): void {
    bounded(this.keyRoutes, idempotencyKey, route, this.limit);
  }

  routeOfKey(idempotencyKey: string): string | undefined {
    return this.keyRoutes.get(idempotencyKey);
  }

  get(runId: string): RememberedRun | undefined {
    return this.runs.get(runId);
  }

  has(runId: string): boolean {
    return this.runs.has(runId);
  }
}

function bounded<V>(map: Map<string, V>, key: string, value: V, limit: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > limit) map.delete(map.keys().next().value as string);
}

/**
 * What this server learned about the runs it started: when each started and FLORA's estimate,
 * to schedule later polls, to tell the runs other calls already answered from a lost one, and
 * for a technique run its technique (technique runs are polled under it). Bounded: the oldest
 * entry goes first.
 */
export interface RememberedRun {
  estimatedSeconds: number | null;
  startedAtMs: number;
  techniqueId?: string;
}

export class RunMemory {
  private readonly runs = new Map<string, RememberedRun>();
  constructor(private readonly limit = 1_000) {}

  remember(runId: string, estimatedSeconds: number | null, startedAtMs: number, techniqueId?: string): void {
    this.runs.delete(runId);
    this.runs.set(runId, { estimatedSeconds, startedAtMs, ...(techniqueId === undefined ? {} : { techniqueId }) });
    if (this.runs.size > this.limit) this.runs.delete(this.runs.keys().next().value as string);
  }

  get(runId: string): RememberedRun | undefined {
    return this.runs.get(runId);
  }

  has(runId: string): boolean {
    return this.runs.has(runId);
  }
}

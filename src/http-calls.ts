/**
 * The requests in flight on one HTTP instance, so that a `notifications/cancelled` reaches the call
 * it names. The servers are stateless: a cancel arrives in a request of its own and lands on a
 * fresh MCP server that never saw the call, so the instance keeps this registry instead.
 *
 * Who may cancel whom: a call is found by its caller's identity (a hash of the FLORA key it came
 * with; the key itself is never kept) and its JSON-RPC id, so only a request carrying the same key
 * can cancel it; another tenant's cancel finds nothing. Each client numbers its requests from 0,
 * so agents sharing one key can have the same id in flight at once: then the cancel is ambiguous
 * and ends nothing. A missed cancel only lets a wait poll on until wait_seconds; a wrong one would
 * end another agent's call.
 */
import { createHash } from 'node:crypto';
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';

/** A caller's identity: who they are to FLORA, without keeping their key. */
export function callerIdentity(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export type CancelOutcome = 'cancelled' | 'not_found' | 'ambiguous';

export class InFlightCalls {
  private readonly calls = new Map<string, Set<(reason: string | undefined) => void>>();

  /** Registers a call's canceller; the returned function unregisters it (call it when the request ends). */
  add(identity: string, id: RequestId, cancel: (reason: string | undefined) => void): () => void {
    const slot = slotOf(identity, id);
    const set = this.calls.get(slot) ?? new Set();
    this.calls.set(slot, set);
    set.add(cancel);
    return () => {
      set.delete(cancel);
      if (set.size === 0 && this.calls.get(slot) === set) this.calls.delete(slot);
    };
  }

  /** Cancels the one call this identity has in flight under `id`, if exactly one. */
  cancel(identity: string, id: RequestId, reason: string | undefined): CancelOutcome {
    const set = this.calls.get(slotOf(identity, id));
    if (!set || set.size === 0) return 'not_found';
    if (set.size > 1) return 'ambiguous';
    const [cancel] = set;
    cancel?.(reason);
    return 'cancelled';
  }
}

/** 1 and "1" are different JSON-RPC ids. */
function slotOf(identity: string, id: RequestId): string {
  return `${identity} ${typeof id} ${String(id)}`;
}

/**
 * HTTP mode: one spend ledger per API key, so each user's FLORA_SPEND_LIMIT_USD counts their own
 * runs. A key is held only as a salted SHA-256 (the salt made at start, in memory, never written),
 * so the book cannot give a key back. Each server instance keeps its own book.
 */
import { createHash, randomBytes } from 'node:crypto';
import { SpendLedger } from './spend-ledger.js';

/** Ledgers kept at once; past it, ledgers that hold nothing go first (keys that never spent). */
const LIMIT = 10_000;

export class SpendBook {
  private readonly salt = randomBytes(32);
  private readonly ledgers = new Map<string, SpendLedger>();

  constructor(private readonly limit = LIMIT) {}

  /** The ledger of the account this key belongs to. */
  ledgerOf(apiKey: string): SpendLedger {
    const id = createHash('sha256').update(this.salt).update(apiKey).digest('base64url');
    let ledger = this.ledgers.get(id);
    if (!ledger) {
      ledger = new SpendLedger();
      this.ledgers.set(id, ledger);
      if (this.ledgers.size > this.limit) this.dropEmpty(id);
    }
    return ledger;
  }

  /** Accounts the book holds. */
  size(): number {
    return this.ledgers.size;
  }

  private dropEmpty(keep: string): void {
    for (const [id, ledger] of this.ledgers) {
      if (this.ledgers.size <= this.limit) return;
      if (id !== keep && ledger.isEmpty()) this.ledgers.delete(id);
    }
  }
}

/** The short soak (200 calls under ~20 % injected faults) on every test run. */
import { describe, expect, it } from 'vitest';
import { formatReport, runSoak } from './soak/soak.js';

describe('soak (short)', () => {
  it('answers every call, never creates two runs, never leaks the key, and does not grow', async () => {
    const report = await runSoak({ calls: 200, concurrency: 8 });
    const table = formatReport(report);
    expect(report.violations, table).toEqual([]);
    expect(report.answered, table).toBe(200);
    const injected = Object.values(report.faults).reduce((a, b) => a + b, 0);
    expect(injected, table).toBeGreaterThan(20);
    expect(Object.keys(report.faults).length, table).toBeGreaterThanOrEqual(8);
  }, 180_000);
});

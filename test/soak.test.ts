/** The short soak (800 calls under ~20 % injected faults) on every test run. */
import { describe, expect, it } from 'vitest';
import { formatReport, runSoak } from './soak/soak.js';

describe('soak (short)', () => {
  it('answers every call, never creates two runs, never leaks the key, and its live heap does not grow', async () => {
    const report = await runSoak({ calls: 800, concurrency: 8 });
    const table = formatReport(report);
    expect(report.violations, table).toEqual([]);
    expect(report.answered, table).toBe(800);
    const injected = Object.values(report.faults).reduce((a, b) => a + b, 0);
    expect(injected, table).toBeGreaterThan(80);
    expect(Object.keys(report.faults).length, table).toBeGreaterThanOrEqual(8);
    expect(report.heapEndMiB, table).toBeGreaterThan(0);
  }, 240_000);
});

/**
 * Proof that the soak's memory criterion catches a leak, in its own file so it runs beside the
 * short soak: the same soak, the same bundle, with a module loaded into the server that keeps some
 * JS heap for every answer it writes. No faults, so each run is short.
 */
import { describe, expect, it } from 'vitest';
import { formatReport, runSoak } from './soak/soak.js';

/** Loaded into the server: every JSON-RPC answer also keeps `bytes` of JS heap, forever. */
const leak = (bytes: number) =>
  `data:text/javascript,const kept=[];const write=process.stdout.write.bind(process.stdout);process.stdout.write=(...a)=>{kept.push(new Array(${bytes / 8}).fill(0.5));return write(...a)}`;

describe('soak memory criterion', () => {
  it('fails a server that keeps 16 KiB per answer: its live heap grows past the allowance', async () => {
    const report = await runSoak({ calls: 300, concurrency: 8, faultRate: 0, serverImports: [leak(16 * 1024)] });
    const table = formatReport(report);
    expect(report.answered, table).toBe(300);
    expect(report.violations, table).toEqual([expect.stringMatching(/^live heap grew from [\d.]+ to [\d.]+ MiB over 300 calls/)]);
    expect(report.heapEndMiB - report.heapWarmMiB, table).toBeGreaterThan(4);
  }, 240_000);

  it('fails a server that keeps 256 KiB per answer: it runs out of its fixed heap and the soak says so', async () => {
    const report = await runSoak({ calls: 300, concurrency: 8, faultRate: 0, serverImports: [leak(256 * 1024)] });
    const table = formatReport(report);
    expect(report.answered, table).toBeLessThan(300);
    expect(report.violations, table).toContainEqual(expect.stringMatching(/^the server exited during the soak out of memory/));
  }, 240_000);
});

/** `npm run soak`: the full soak (5,000 calls); prints its table and fails on any violation. */
import { formatReport, runSoak } from './soak.js';

const calls = Number(process.env.SOAK_CALLS ?? 5000);
const faultRate = process.env.SOAK_FAULT_RATE === undefined ? undefined : Number(process.env.SOAK_FAULT_RATE);
const report = await runSoak({ calls, concurrency: 8, faultRate });
console.log(formatReport(report));
process.exitCode = report.violations.length === 0 && report.answered === report.calls ? 0 : 1;

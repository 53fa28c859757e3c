/** Following runs: check one, or wait for its end inside the call. */
import type { ToolFactory } from '../tool.js';
import { pollRun } from './poll-run.js';

export const runsTools: readonly ToolFactory[] = [pollRun];

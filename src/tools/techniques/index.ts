/** Techniques: FLORA's ready-made workflows, found and run with declared inputs. */
import type { ToolFactory } from '../tool.js';
import { listTechniques } from './list-techniques.js';
import { runTechnique } from './run-technique.js';

export const techniquesTools: readonly ToolFactory[] = [listTechniques, runTechnique];

/** `npm run docs`: regenerate README.md's tool reference from the registry. */
import { readFileSync, writeFileSync } from 'node:fs';
import { buildTools } from '../../src/tools/index.js';

const TOOLS = buildTools();
import { withToolReference } from './tool-reference.js';

const path = new URL('../../../README.md', import.meta.url);
writeFileSync(path, withToolReference(readFileSync(path, 'utf8'), TOOLS));
process.stderr.write('README.md tool reference updated\n');

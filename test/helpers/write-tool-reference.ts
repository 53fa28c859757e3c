/** `npm run docs`: regenerate README.md's tool reference from the registry. */
import { readFileSync, writeFileSync } from 'node:fs';
import { withToolReference } from './tool-reference.js';

const path = new URL('../../../README.md', import.meta.url);
writeFileSync(path, withToolReference(readFileSync(path, 'utf8')));
process.stderr.write('README.md tool reference updated\n');

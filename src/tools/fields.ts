/**
 * Argument fields that several tools share, described once. Where the user's env names a
 * default, the schema owns it (`.default`, published as JSON Schema's `default`): handlers always
 * receive the ID, and the model reads the default where it reads the field.
 *
 * Format rules of IDs and keys are checked as refinements, not published as patterns: the model
 * copies these values from another tool's answer, the description names the prefix, and each
 * pattern would cost every conversation tools/list bytes. A value that breaks a rule is still
 * refused with the rule as its message.
 */
import * as z from 'zod';
import { RUN_ID_PATTERN, RUN_ID_RULE, TECHNIQUE_ID_PATTERN, TECHNIQUE_ID_RULE } from '../flora/client.js';

/** A string held to `pattern`, refused with `rule`; the pattern is not published. */
export const ruledString = (pattern: RegExp, rule: string) => z.string().refine((v) => pattern.test(v), rule);

/** A string that must not be empty; said in the error, not in the schema. */
export const nonEmptyString = () => ruledString(/^[\s\S]/, 'must not be empty');

const idString = (prefix: string, what: string) =>
  ruledString(new RegExp(`^${prefix}\\S+$`), `must be a FLORA ${what} ID starting with "${prefix}"`);

/** An ID argument: required, or defaulted when the user's env names one. */
function idField(prefix: string, what: string, describe: string, fallback: string | undefined) {
  const field = idString(prefix, what);
  return fallback === undefined ? field.describe(describe) : field.default(fallback).describe(describe);
}

export const workspaceField = (fallback: string | undefined) =>
  idField('ws_', 'workspace', 'ws_... ID from list_workspaces.', fallback);

export const projectField = (fallback: string | undefined) =>
  idField('prj_', 'project', 'prj_... ID from list_projects; the result lands on its canvas.', fallback);

/** An optional project ID without a default (e.g. where to place an upload as well). */
export const optionalProjectField = (describe: string) => idString('prj_', 'project').optional().describe(describe);

/** A run ID held to the same rule: for a list of them. */
export const runIdOf = () => ruledString(RUN_ID_PATTERN, RUN_ID_RULE);

export const runIdField = () => runIdOf().describe('run_... ID from start_generation_run or run_technique.');

/** An optional run_id checked as a refinement, not a published pattern: the tools/list budget. */
export const optionalRunIdField = (describe: string) => runIdOf().optional().describe(describe);

export const waitSecondsField = (max: number, what = 'the run') =>
  z.number().min(0).max(max).optional().describe(`Seconds to wait for ${what} to end, with progress.`);

/** A technique ID: it goes into URL paths, so it is held to what cannot change them. */
const techniqueId = () => ruledString(TECHNIQUE_ID_PATTERN, TECHNIQUE_ID_RULE);

export const techniqueIdField = (describe: string) => techniqueId().describe(describe);

export const optionalTechniqueIdField = (describe: string) => techniqueId().optional().describe(describe);

/** A workspace filter: optional, or defaulted when the user's env names one. */
export const workspaceFilterField = (fallback: string | undefined, describe: string) =>
  fallback === undefined
    ? idString('ws_', 'workspace').optional().describe(describe)
    : idString('ws_', 'workspace').default(fallback).describe(describe);

export const callbackUrlField = () =>
  z
    .url({ protocol: /^https$/, error: 'must be an https:// URL' })
    .optional()
    .describe('https URL FLORA calls when the run ends.');

/**
 * The one retry rule that prevents a second charge, stated where the model reads the key: the
 * tool's error gives the key, this says when to use it and that a retry without it is wrong.
 */
export const idempotencyKeyField = () =>
  ruledString(/^[\x21-\x7E]{1,255}$/, 'must be 1-255 printable ASCII characters without spaces')
    .optional()
    .describe('Only to retry a start whose error gave one: that key. Never retry such a start without it.');

export const estimateOnlyField = () =>
  z.boolean().optional().describe('true: return estimated_usd and the limits only; start nothing.');

/** limit and cursor of a paged list: FLORA pages 1-100 items, next_cursor leads to the next page. */
export const pageFields = (items: string) => ({
  limit: z.number().int().min(1).max(100).default(20).describe(`${items} per page.`),
  cursor: nonEmptyString().optional().describe('next_cursor of the previous page.'),
});

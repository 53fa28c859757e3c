/**
 * Argument fields that several tools share, described once. Where the user's env names a
 * default, the schema owns it (`.default`): handlers always receive the ID.
 */
import * as z from 'zod';
import { RUN_ID_PATTERN, RUN_ID_RULE, TECHNIQUE_ID_PATTERN, TECHNIQUE_ID_RULE } from '../flora/client.js';

const idString = (prefix: string, what: string) =>
  z.string().regex(new RegExp(`^${prefix}\\S+$`), `must be a FLORA ${what} ID starting with "${prefix}"`);

/** An ID argument: required, or defaulted when the user's env names one. */
function idField(prefix: string, what: string, describe: string, fallback: string | undefined, envName: string) {
  const field = idString(prefix, what);
  return fallback === undefined
    ? field.describe(describe)
    : field.default(fallback).describe(`${describe} Default: ${fallback} (${envName}).`);
}

export const workspaceField = (fallback: string | undefined) =>
  idField('ws_', 'workspace', 'Workspace (ws_...) from list_workspaces; it is billed.', fallback, 'FLORA_WORKSPACE_ID');

export const projectField = (fallback: string | undefined) =>
  idField(
    'prj_',
    'project',
    'Project (prj_...) from list_projects; the result lands on its canvas.',
    fallback,
    'FLORA_PROJECT_ID',
  );

export const runIdField = () =>
  z.string().regex(RUN_ID_PATTERN, RUN_ID_RULE).describe('run_id from start_generation_run or run_technique.');

/** A run ID held to the same rule, unpublished: for a list of them, where the tools/list budget is tight. */
export const runIdOf = () => z.string().refine((v) => RUN_ID_PATTERN.test(v), RUN_ID_RULE);

/** An optional run_id checked as a refinement, not a published pattern: the tools/list budget. */
export const optionalRunIdField = (describe: string) => runIdOf().optional().describe(describe);

export const waitSecondsField = (max: number, what = 'the run') =>
  z.number().min(0).max(max).optional().describe(`Wait up to this many seconds (0-${max}) for ${what} to end, with progress.`);

/**
 * A technique ID: it goes into URL paths, so it is held to what cannot change them. Checked as a
 * refinement, not a published pattern: the tools/list budget, and the description says "tech_".
 */
const techniqueId = () => z.string().refine((v) => TECHNIQUE_ID_PATTERN.test(v), TECHNIQUE_ID_RULE);

export const techniqueIdField = (describe: string) => techniqueId().describe(describe);

export const optionalTechniqueIdField = (describe: string) => techniqueId().optional().describe(describe);

/** A workspace filter: optional, or defaulted when the user's env names one. */
export const workspaceFilterField = (fallback: string | undefined, describe: string) =>
  fallback === undefined
    ? idString('ws_', 'workspace').optional().describe(describe)
    : idString('ws_', 'workspace').default(fallback).describe(`${describe} Default: ${fallback} (FLORA_WORKSPACE_ID).`);

export const callbackUrlField = () =>
  z
    .url({ protocol: /^https$/, error: 'must be an https:// URL' })
    .optional()
    .describe('https URL FLORA calls once the run ends.');

export const idempotencyKeyField = () =>
  z
    .string()
    .regex(/^[\x21-\x7E]{1,255}$/, 'must be 1-255 printable ASCII characters without spaces')
    .optional()
    .describe('Only to retry a failed start: the idempotency_key from its error.');

export const estimateOnlyField = () =>
  z.boolean().optional().describe('true: return estimated_usd and the limits only; start nothing.');

/** limit and cursor of a paged list: FLORA pages 1-100 items, next_cursor leads to the next page. */
export const pageFields = (items: string) => ({
  limit: z.number().int().min(1).max(100).default(20).describe(`${items} per page (1-100).`),
  cursor: z.string().min(1).optional().describe('next_cursor of the previous page.'),
});

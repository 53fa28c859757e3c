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

export const runIdField = () => z.string().regex(RUN_ID_PATTERN, RUN_ID_RULE).describe('run_id from start_generation_run.');

export const waitSecondsField = (max: number) =>
  z.number().min(0).max(max).optional().describe(`Wait up to this many seconds (0-${max}) for the run to end, with progress.`);

/** A technique ID: it goes into URL paths, so it is held to what cannot change them. */
export const techniqueIdField = (describe: string) =>
  z.string().regex(TECHNIQUE_ID_PATTERN, TECHNIQUE_ID_RULE).describe(describe);

export const optionalTechniqueIdField = (describe: string) =>
  z.string().regex(TECHNIQUE_ID_PATTERN, TECHNIQUE_ID_RULE).optional().describe(describe);

/** A workspace filter: optional, or defaulted when the user's env names one. */
export const workspaceFilterField = (fallback: string | undefined, describe: string) =>
  fallback === undefined
    ? idString('ws_', 'workspace').optional().describe(describe)
    : idString('ws_', 'workspace').default(fallback).describe(`${describe} Default: ${fallback} (FLORA_WORKSPACE_ID).`);

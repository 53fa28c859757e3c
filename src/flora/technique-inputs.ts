/**
 * Pre-flight check of a technique run's inputs against the technique's definition, before
 * anything is sent: FLORA refuses a bad input for free, but an agent is better served by an
 * answer that names what is valid, and a media input that is not a URL is better caught here.
 * - an input ID the technique does not declare is refused, naming the declared IDs (closest first);
 * - a required input that is missing, or given as an empty string, is refused, naming it;
 * - an optional input given as an empty string is left out (FLORA rejects empty strings);
 * - a media input (imageUrl, videoUrl, audioUrl, documentUrl) must be an http(s) URL, unless it
 *   accepts an element ID; a URL FLORA may not fetch is sent, with a warning.
 */
import { FloraError, type FieldIssue } from '../errors.js';
import { closest } from './catalog.js';
import { MediaValueCheck } from './media-inputs.js';
import type { Technique } from './schemas.js';

/** One input as it is sent; `type` is the declared one, unknown when the definition is. */
export interface PreparedInput {
  id: string;
  type?: string;
  value: string;
}

export interface PreparedInputs {
  inputs: PreparedInput[];
  /** What may still go wrong (a URL FLORA may not fetch). */
  warnings: string[];
}

const isMedia = (type: string) => /Url$/.test(type);

/** The inputs to send, in declared order; throws input_validation_error when they do not fit. */
export function prepareInputs(given: Readonly<Record<string, string>>, technique: Technique | undefined): PreparedInputs {
  if (technique === undefined) {
    // Nothing to check against: only what FLORA always refuses is left out.
    return { inputs: Object.entries(given).flatMap(([id, value]) => (value === '' ? [] : [{ id, value }])), warnings: [] };
  }
  const declared = technique.inputs.map((i) => i.id);
  const fields: FieldIssue[] = [];
  for (const id of Object.keys(given)) {
    if (!declared.includes(id)) {
      const valid = declared.length ? `its inputs are ${closest(id, declared).join(', ')} (closest first)` : 'it takes no inputs';
      fields.push({ field: `inputs.${id}`, message: `not an input of ${technique.technique_id}; ${valid}` });
    }
  }
  const values = new MediaValueCheck();
  const inputs: PreparedInput[] = [];
  for (const input of technique.inputs) {
    const field = `inputs.${input.id}`;
    const value = Object.hasOwn(given, input.id) ? given[input.id] : undefined;
    const required = input.optional !== true;
    if (value === undefined || value === '') {
      if (required) {
        const how = value === undefined ? 'missing' : 'given empty';
        fields.push({ field, message: `required ${input.type} input "${input.name}" is ${how}` });
      }
      continue;
    }
    if (isMedia(input.type) && input.accepts_element !== true) fields.push(...values.check(field, value, 'one'));
    inputs.push({ id: input.id, type: input.type, value });
  }
  if (fields.length > 0) {
    throw new FloraError(
      'input_validation_error',
      `inputs do not fit technique ${technique.technique_id}: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}. Checked by this server against the technique's definition; nothing was sent to FLORA and nothing was billed.`,
      { fields, retryable: false },
    );
  }
  return { inputs, warnings: values.warnings() };
}

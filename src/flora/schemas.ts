/**
 * FLORA wire shapes (snake_case, as the API sends them), in zod 4. Response schemas are loose
 * objects and enum-like fields are plain strings: a field or status FLORA adds later passes
 * through instead of breaking a tool. They validate FLORA's answers; the tools publish smaller
 * output schemas of their own (tools/list budget), so the descriptions here document the wire.
 */
import * as z from 'zod';

export const GENERATION_TYPES = ['image', 'video', 'audio', 'text'] as const;
export type GenerationType = (typeof GENERATION_TYPES)[number];

/** FLORA does not document its timestamp unit: read it by magnitude (ms, else s). */
export function epochMs(value: number | null | undefined): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return undefined;
  if (value > 1e12) return value;
  if (value > 1e9) return value * 1000;
  return undefined;
}

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed']);

/** Body of POST /generate (and of the deprecated POST /runs/generation: identical). */
export interface GenerateBody {
  project_id: string;
  workspace_id: string;
  prompt: string;
  type: GenerationType;
  model?: string;
  params?: Record<string, unknown>;
  callback_url?: string;
}

const nullableString = (d: string) => z.string().nullable().optional().describe(d);
const nullableNumber = (d: string) => z.number().nullable().optional().describe(d);

export const StartRunResponse = z
  .looseObject({
    run_id: z.string().min(1).describe('ID of the new run (run_...). Pass it to poll_run.'),
    type: z.string().describe('Kind of run FLORA started: "generation" here (also "technique" or "action").'),
    estimated_seconds: z
      .number()
      .nullable()
      .describe("FLORA's estimate of how long the run takes, in seconds; null when unknown."),
    charged_cost: z
      .number()
      .nullable()
      .describe(
        'Cost in USD quoted at start (null when unknown). A quote: FLORA settles the final charge later and it may differ.',
      ),
    poll_url: nullableString("FLORA's polling URL for this run (informational; use poll_run with run_id)."),
    project_id: nullableString('Project (canvas) the run lands on.'),
    model: z
      .looseObject({ model_id: z.string().nullable().optional().describe('Model endpoint ID used.') })
      .nullable()
      .optional()
      .describe('The model FLORA used.'),
  })
  .describe('FLORA\'s "run started" answer.');
export type StartRunResponse = z.infer<typeof StartRunResponse>;

export const RunOutput = z.looseObject({
  output_id: z.string().describe('ID of this output.'),
  type: z.string().describe('Output kind: imageUrl, videoUrl, audioUrl, documentUrl, or text (then url holds the text itself).'),
  url: z.string().describe('Public URL of the media file, or the generated text for type "text".'),
});
export type RunOutput = z.infer<typeof RunOutput>;

export const RunStatus = z
  .looseObject({
    run_id: z.string().min(1).describe('ID of the run.'),
    status: z.string().describe('pending (queued), running, completed or failed. completed and failed are final.'),
    progress: z.number().describe('Progress from 0 to 100. Failed runs also report 100: decide on status.'),
    created_at: z.number().describe('When the run was created (epoch; FLORA does not document the unit).'),
    started_at: nullableNumber('When the run started.'),
    completed_at: nullableNumber('When the run finished (also set on failure).'),
    error_code: nullableString('Why the run failed (only when status is failed).'),
    error_message: nullableString("FLORA's explanation of the failure (only when status is failed)."),
    charged_cost: nullableNumber('Cost in USD; may still change shortly after the run ends.'),
    poll_url: nullableString("FLORA's polling URL for this run (informational)."),
    outputs: z.array(RunOutput).nullable().optional().describe('Results, present once the run has completed.'),
  })
  .describe('State of one run.');
export type RunStatus = z.infer<typeof RunStatus>;

const ModelParam = z.looseObject({
  name: z.string().describe('Parameter name, the key to use in params.'),
  type: z.string().describe('Value type: string, string[], bool, int, int?, seed, float or dict.'),
  required: z.boolean().describe('Whether the model needs this parameter.'),
  default: z.unknown().optional().describe('Value used when the parameter is omitted.'),
  min: z.number().nullable().optional().describe('Smallest allowed number.'),
  max: z.number().nullable().optional().describe('Largest allowed number.'),
  label: z.string().nullable().optional().describe('Human-readable name.'),
  description: z.string().nullable().optional().describe('What the parameter does.'),
  options: z
    .array(
      z.looseObject({
        label: z.string().optional().describe('Human-readable option.'),
        value: z.unknown().describe('The value to send.'),
        description: z.string().nullable().optional().describe('What this option does.'),
      }),
    )
    .nullable()
    .optional()
    .describe('The only allowed values, when the parameter is an enumeration.'),
});

export const Model = z.looseObject({
  model_id: z.string().min(1).describe('Model endpoint ID: the value for start_generation_run.model.'),
  name: z.string().describe('Display name (not accepted as model).'),
  type: z.string().describe('What it generates: image, video, audio or text.'),
  provider: z.string().describe('Who runs the model.'),
  capabilities: z.array(z.string()).optional().describe('Capability tags.'),
  estimated_credits: z.number().optional().describe('Typical cost in credits (about US$0.001 per credit).'),
  estimated_seconds: z.number().optional().describe('Typical run time in seconds.'),
  beta: z.boolean().optional().describe('Whether the model is in beta.'),
  params: z.array(ModelParam).describe('Parameters accepted in start_generation_run.params.'),
});
export type Model = z.infer<typeof Model>;

export const ModelList = z.looseObject({
  models: z.array(Model).describe('Models available to this API key.'),
});
export type ModelList = z.infer<typeof ModelList>;

export const WorkspaceList = z.looseObject({
  workspaces: z.array(
    z.looseObject({
      workspace_id: z.string().min(1),
      name: z.string(),
      created_at: z.number().nullable().optional(),
      role: z.string().optional(),
    }),
  ),
});
export type WorkspaceList = z.infer<typeof WorkspaceList>;

export const ProjectList = z.looseObject({
  projects: z.array(
    z.looseObject({
      project_id: z.string().min(1),
      name: z.string(),
      workspace_id: z.string().optional(),
      origin: z.string().nullable().optional(),
      last_modified: z.number().nullable().optional(),
      created_at: z.number().optional(),
    }),
  ),
  meta: z.looseObject({ next_cursor: z.string().nullable().optional() }).optional(),
});
export type ProjectList = z.infer<typeof ProjectList>;

/** One item of GET /generations (newest first). */
export const Generation = z.looseObject({
  run_id: z.string().min(1),
  status: z.string(),
  progress: z.number().optional(),
  created_at: z.number(),
  project_id: z.string().nullable().optional(),
  workspace_id: z.string().nullable().optional(),
  charged_cost: z.number().nullable().optional(),
  model: z.looseObject({ model_id: z.string().nullable().optional() }).nullable().optional(),
});
export type Generation = z.infer<typeof Generation>;

export const GenerationList = z.looseObject({
  generations: z.array(Generation),
  meta: z.looseObject({ next_cursor: z.string().nullable().optional() }).optional(),
});
export type GenerationList = z.infer<typeof GenerationList>;

/** One asset (POST /assets, GET /assets/{id}, POST /assets/{id}/complete). */
export const Asset = z.looseObject({
  asset_id: z.string().min(1).describe('ID of the asset (asset_...).'),
  status: z.string().describe('pending_upload, ready or failed. Only a ready asset has a usable url.'),
  url: nullableString('The media URL to pass to generations and techniques, exactly as given.'),
  file_name: nullableString('File name FLORA stores.'),
  content_type: nullableString('MIME type FLORA stores.'),
  size_bytes: nullableNumber('Size in bytes.'),
  uploaded_via: nullableString('direct, url or signed-url.'),
  project_id: nullableString('Project whose canvas shows the asset.'),
  failure_message: nullableString('Why the asset failed (only when status is failed).'),
});
export type Asset = z.infer<typeof Asset>;

/** Form fields come as strings; a number or boolean is sent as its text. */
const FormFields = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String));

/**
 * The answer to POST /assets with source "signed-url": where to send the file. Older FLORA docs
 * spell the upload's keys in camelCase; both are read. A PUT target may come as upload_url.
 */
export const SignedUpload = z.looseObject({
  asset_id: z.string().min(1),
  status: z.string().optional(),
  expires_at: z.union([z.string(), z.number()]).nullable().optional(),
  upload: z
    .looseObject({
      url: z.string().min(1),
      method: z.string().optional(),
      file_field: z.string().min(1).optional(),
      fileField: z.string().min(1).optional(),
      form_fields: FormFields.optional(),
      formFields: FormFields.optional(),
    })
    .nullable()
    .optional(),
  upload_url: z.string().min(1).nullable().optional(),
});
export type SignedUpload = z.infer<typeof SignedUpload>;

/** FLORA's error envelope. Loose on purpose: we read what we can of any error body. */
export const ErrorEnvelope = z.object({
  error: z.looseObject({
    code: z.string().min(1),
    message: z.string().optional(),
    fields: z
      .array(z.looseObject({ field: z.coerce.string(), message: z.coerce.string() }))
      .optional()
      .catch(undefined),
  }),
});

// ---------------------------------------------------------------------------------------------
// Techniques: FLORA workflows authored in its editor, run through the API with declared inputs.
// ---------------------------------------------------------------------------------------------

/** One declared input or output of a technique. */
export const TechniqueIO = z.looseObject({
  id: z.string().min(1).describe('Input ID: the key to use in run_technique.inputs.'),
  name: z.string().describe('Human-readable name.'),
  type: z.string().describe('imageUrl, videoUrl, audioUrl, documentUrl or text.'),
  description: z.string().nullable().optional().describe('What the input is for.'),
  optional: z.boolean().nullable().optional().describe('Whether the input may be left out.'),
  accepts_element: z.boolean().nullable().optional().describe('When true, an element ID is accepted as the value.'),
});
export type TechniqueIO = z.infer<typeof TechniqueIO>;

export const Technique = z.looseObject({
  technique_id: z.string().min(1).describe('Technique ID (tech_...).'),
  name: z.string().describe('Display name.'),
  description: z.string().nullable().optional().describe('What the technique does.'),
  run_cost: z.number().nullable().optional().describe('Price of one run in USD.'),
  inputs: z.array(TechniqueIO).describe('Declared inputs.'),
  outputs: z.array(TechniqueIO).nullable().optional().describe('Declared outputs.'),
});
export type Technique = z.infer<typeof Technique>;

export const TechniqueList = z.looseObject({
  techniques: z.array(Technique),
  meta: z.looseObject({ next_cursor: z.string().nullable().optional() }).optional(),
});
export type TechniqueList = z.infer<typeof TechniqueList>;

/** Body of POST /techniques/{id}/runs (idempotency_key is added by the client). */
export interface TechniqueRunBody {
  inputs: Array<{ id: string; type: string; value: string }>;
  mode: 'async';
  callback_url?: string;
}

/** Body of POST /runs/technique (the key travels in the Idempotency-Key header). */
export interface TechniqueStartBody {
  technique_id: string;
  workspace_id: string;
  inputs: Record<string, string>;
}

/**
 * What POST /techniques/{id}/runs answers: the run-status object, per FLORA's spec. Only run_id is
 * required, so the start envelope (which older docs show) reads as well.
 */
export const TechniqueRunStarted = z.looseObject({
  run_id: z.string().min(1),
  status: z.string().optional(),
  progress: z.number().optional(),
  created_at: z.number().nullable().optional(),
  charged_cost: z.number().nullable().optional(),
  estimated_seconds: z.number().nullable().optional(),
  poll_url: z.string().nullable().optional(),
  project_id: z.string().nullable().optional(),
});
export type TechniqueRunStarted = z.infer<typeof TechniqueRunStarted>;

/** One item of GET /technique-runs (newest first). */
export const TechniqueRunItem = z.looseObject({
  run_id: z.string().min(1),
  status: z.string(),
  created_at: z.number(),
  workspace_id: z.string().nullable().optional(),
  project_id: z.string().nullable().optional(),
  charged_cost: z.number().nullable().optional(),
  technique: z
    .looseObject({ technique_id: z.string().nullable().optional(), name: z.string().nullable().optional() })
    .nullable()
    .optional(),
});
export type TechniqueRunItem = z.infer<typeof TechniqueRunItem>;

export const TechniqueRunList = z.looseObject({
  technique_runs: z.array(TechniqueRunItem),
  meta: z.looseObject({ next_cursor: z.string().nullable().optional() }).optional(),
});
export type TechniqueRunList = z.infer<typeof TechniqueRunList>;

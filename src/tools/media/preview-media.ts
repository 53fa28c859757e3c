/**
 * preview_media: a run's image outputs (or one FLORA media URL) as small JPEG previews the user
 * and the agent can see, instead of links. Only FLORA's media is fetched (client.downloadMedia
 * holds the host rule); the image codecs are loaded on the first call.
 */
import * as z from 'zod';
import { FloraError, MediaRefusedError } from '../../errors.js';
import { TERMINAL_STATUSES, type RunOutput } from '../../flora/schemas.js';
import { nonEmptyString, optionalRunIdField } from '../fields.js';
import { pollResult } from '../runs/present.js';
import { readRun } from '../runs/wait.js';
import { defineTool, type ToolContext, type ToolOptions } from '../tool.js';

/** More images would crowd the model's context; the rest are listed with their URLs. */
export const MAX_PREVIEWS = 4;
/** Downloads stop starting after this, so one call stays well inside a client's 60 s limit. */
const CALL_BUDGET_MS = 45_000;

/** Typed: what every answer has. images, skipped and the run's fields pass as additional properties (tools/list budget). */
const PreviewOutput = z.looseObject({ summary: z.string() });

/** One previewed image, as structuredContent lists it. */
export type ImagePreview = {
  url: string;
  width: number;
  height: number;
  preview_width: number;
  preview_height: number;
  preview_bytes: number;
};

type Skipped = {
  url?: string;
  type?: string;
  reason: string;
};

interface PreviewResult {
  summary: string;
  images: ImagePreview[];
  skipped: Skipped[];
  [field: string]: unknown;
}

/** Why an output of this type is listed, not shown. */
const NOT_SHOWN: Record<string, string> = {
  videoUrl: 'a video: only images are previewed',
  audioUrl: 'audio: only images are previewed',
  documentUrl: 'a document (PDF): only images are previewed',
  text: 'a text output: poll_run shows its text',
};

type Shown = { image: ImagePreview; jpeg: Uint8Array } | { skipped: Skipped };

export const previewMedia = (options: ToolOptions) =>
  defineTool({
    name: 'preview_media',
    title: 'Preview FLORA images',
    description: `Shows a run's image outputs, or a FLORA media url, as JPEG previews: look before making variations. Free. Up to ${MAX_PREVIEWS} images; other media is listed, not shown.`,
    inputSchema: z
      .strictObject({
        run_id: optionalRunIdField('A completed run_id.'),
        url: nonEmptyString().optional().describe('Or one FLORA media URL.'),
        size: z.number().int().min(128).max(1536).default(768).describe('Longest side, px.'),
      })
      .superRefine((args, check) => {
        if ((args.run_id === undefined) === (args.url === undefined)) {
          check.addIssue({ code: 'custom', path: ['run_id'], message: 'give either run_id or url (exactly one)' });
        }
      }),
    outputSchema: PreviewOutput,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    async handler(args, ctx) {
      const deadline = Date.now() + CALL_BUDGET_MS;
      let result: PreviewResult;
      let shown: Shown[];
      if (args.url !== undefined) {
        // One URL: a failure is the call's error (a refused host was not fetched).
        shown = [await previewOne(ctx, args.url, undefined, args.size, deadline)];
        result = { summary: '', images: [], skipped: [] };
      } else {
        // A technique run is read under its technique: this server remembers those it started.
        const techniqueId = ctx.runs.get(args.run_id!)?.techniqueId;
        const where = { runId: args.run_id!, techniqueId };
        const run = await readRun(ctx, where).catch((err: unknown) => {
          if (!(err instanceof FloraError) || err.code !== 'not_found' || techniqueId !== undefined) throw err;
          throw err.retold(
            `Run ${where.runId} was not found. If it is a technique run this server did not start, FLORA serves it only under its technique: call poll_run with its technique_id, then preview_media with each output's url.`,
          );
        });
        const done = TERMINAL_STATUSES.has(run.status);
        const polled = pollResult({ run, done }, ctx.runs, options.maxWaitSeconds, where);
        result = { summary: '', run_id: run.run_id, status: run.status, images: [], skipped: [] };
        if (polled.next_poll_seconds !== undefined) result.next_poll_seconds = polled.next_poll_seconds;
        if (run.status !== 'completed') {
          const then = done ? '' : ' Then call preview_media again to see its images.';
          return { structured: { ...result, summary: `${polled.summary}${then}` } };
        }
        shown = await previewOutputs(ctx, run.outputs ?? [], args.size, deadline);
      }
      for (const s of shown) {
        if ('image' in s) result.images.push(s.image);
        else result.skipped.push(s.skipped);
      }
      result.summary = summarize(result, args.size);
      const blocks = shown.flatMap((s) =>
        'image' in s ? [{ type: 'image' as const, data: Buffer.from(s.jpeg).toString('base64'), mimeType: 'image/jpeg' }] : [],
      );
      return { structured: result, extraContent: blocks };
    },
  });

/** A run's outputs: the first MAX_PREVIEWS images shown, one after the other (one decoded image in memory at a time). */
async function previewOutputs(ctx: ToolContext, outputs: readonly RunOutput[], size: number, deadline: number): Promise<Shown[]> {
  const shown: Shown[] = [];
  let images = 0;
  for (const output of outputs) {
    const url = output.type === 'text' ? undefined : output.url;
    if (output.type !== 'imageUrl') {
      shown.push({ skipped: { ...(url ? { url } : {}), type: output.type, reason: NOT_SHOWN[output.type] ?? 'not an image' } });
    } else if (++images > MAX_PREVIEWS) {
      shown.push({
        skipped: { url: output.url, type: output.type, reason: `over ${MAX_PREVIEWS} images a call: preview it by its url` },
      });
    } else {
      try {
        shown.push(await previewOne(ctx, output.url, output.type, size, deadline));
      } catch (err) {
        // One output that cannot be shown does not hide the others; cancellation ends the call.
        if (!(err instanceof FloraError) || err.code === 'cancelled') throw err;
        shown.push({ skipped: { url: output.url, type: output.type, reason: `${err.code}: ${err.message}` } });
      }
    }
  }
  return shown;
}

async function previewOne(
  ctx: ToolContext,
  url: string,
  type: string | undefined,
  size: number,
  deadline: number,
): Promise<Shown> {
  const typed = type === undefined ? {} : { type };
  if (Date.now() >= deadline) {
    return {
      skipped: { url, ...typed, reason: `not fetched: this call's ${CALL_BUDGET_MS / 1000} s were spent; preview it by its url` },
    };
  }
  const download = await ctx.client.downloadMedia(url, { signal: ctx.signal, deadline });
  if (download.kind === 'not-image') {
    return { skipped: { url, ...typed, reason: `${download.contentType}: only images are previewed` } };
  }
  // Loaded here, not at start: the server's cold start and memory do not pay for the codecs.
  const { imageInfo, makePreview } = await import('./preview-image.js');
  const info = imageInfo(download.bytes);
  if (!info) {
    return { skipped: { url, ...typed, reason: `not a PNG, JPEG or WebP image (${download.contentType || 'no content type'})` } };
  }
  let preview: ReturnType<typeof makePreview>;
  try {
    preview = makePreview(download.bytes, info, size);
  } catch (err) {
    if ((err as Error).name === 'ImageRefused') throw MediaRefusedError.of((err as Error).message);
    throw err;
  }
  return {
    image: {
      url,
      width: preview.width,
      height: preview.height,
      preview_width: preview.previewWidth,
      preview_height: preview.previewHeight,
      preview_bytes: preview.jpeg.byteLength,
    },
    jpeg: preview.jpeg,
  };
}

function summarize(result: PreviewResult, size: number): string {
  const where = typeof result.run_id === 'string' ? ` of run ${result.run_id}` : '';
  const shown = result.images.length;
  const head =
    shown > 0
      ? `${shown} JPEG preview(s)${where} follow as images, in the order of images (longest side at most ${size} px; width and height are the originals').`
      : `No image${where} could be previewed.`;
  const rest = result.skipped.length > 0 ? ` ${result.skipped.length} not shown: skipped says why.` : '';
  return head + rest;
}

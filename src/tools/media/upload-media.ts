import { newIdempotencyKey } from '../../flora/start.js';
import * as z from 'zod';
import { FloraError } from '../../errors.js';
import { ACCEPTED_MEDIA_TYPES, DIRECT_UPLOAD_MAX_BYTES, megabytes, type MediaKind } from '../../flora/assets.js';
import type { AssetPlacement } from '../../flora/client.js';
import type { Asset } from '../../flora/schemas.js';
import { nonEmptyString, optionalProjectField, workspaceField } from '../fields.js';
import { defineTool, type ToolContext, type ToolOptions } from '../tool.js';
import { openLocalMedia, parseSource, sourceProblem, type LocalMedia } from './local-file.js';
import { waitForAsset, type AssetOutcome } from './wait-asset.js';

/**
 * Published output schema: the fields every answer has, and url, the point of the call. The rest
 * (content_type, size_bytes) pass as additional properties: the tools/list budget.
 */
const UploadOutput = z.looseObject({
  summary: z.string(),
  url: z.string().optional(),
  asset_id: z.string(),
  status: z.string(),
});
type UploadResult = z.output<typeof UploadOutput> & { content_type?: string; size_bytes?: number };

/** What to do with the url, by kind of media: the param or technique input that takes it. */
const USE: Record<MediaKind | 'other', string> = {
  image:
    'Pass url exactly as given: as params.image_url of an i2i-/i2v- model in start_generation_run, or as a technique imageUrl input.',
  video:
    'Pass url exactly as given as a technique videoUrl input; start_generation_run ignores params.video_url (and bills the run).',
  audio: 'Pass url exactly as given as a technique audioUrl input.',
  document: 'Pass url exactly as given as a technique documentUrl input.',
  other: 'Pass url exactly as given wherever FLORA takes a media URL.',
};

export const uploadMedia = (options: ToolOptions) =>
  defineTool({
    name: 'upload_media',
    title: 'Upload media to FLORA',
    description: [
      'Uploads an image, video, audio file or PDF; returns its FLORA url, the form media inputs take (e.g. params.image_url).',
      `Waits up to ${options.maxWaitSeconds} s for it to be ready.`,
    ].join(' '),
    inputSchema: z.strictObject({
      source: nonEmptyString()
        .superRefine((source, check) => {
          const problem = sourceProblem(source);
          if (problem) check.addIssue({ code: 'custom', message: problem });
        })
        .describe('Public https:// URL or, over stdio, an absolute path or file:// URL (up to 500 MB).'),
      workspace_id: workspaceField(options.defaultWorkspaceId),
      project_id: optionalProjectField("Also place it on this project's canvas (prj_...)."),
    }),
    outputSchema: UploadOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args, ctx) {
      const source = parseSource(args.source);
      const placement: AssetPlacement = { workspace_id: args.workspace_id };
      if (args.project_id !== undefined) placement.project_id = args.project_id;
      let asset: Asset;
      let kind: MediaKind | undefined;
      let what: string;
      if (source.kind === 'url') {
        what = 'the URL';
        ctx.progress(0, 'asking FLORA to fetch the URL');
        asset = await ctx.client.createAssetFromUrl({ source: source.url, ...placement }, newIdempotencyKey(), {
          signal: ctx.signal,
        });
      } else {
        what = 'the file';
        const media = await openLocalMedia(source.path, ctx);
        kind = media.kind;
        asset =
          media.size <= DIRECT_UPLOAD_MAX_BYTES
            ? await uploadDirect(ctx, media, placement)
            : await uploadSigned(ctx, media, placement);
      }
      const outcome = await waitForAsset(ctx, asset, options.maxWaitSeconds, source.kind === 'url' ? 5 : 95, what);
      return { structured: present(outcome, kind, args.project_id) };
    },
  });

async function uploadDirect(ctx: ToolContext, media: LocalMedia, placement: AssetPlacement): Promise<Asset> {
  ctx.progress(0, `uploading ${megabytes(media.size)} to FLORA`);
  return ctx.client.uploadAsset({ ...placement, file: media.blob, file_name: media.fileName }, newIdempotencyKey(), {
    signal: ctx.signal,
  });
}

/** Over 4 MB: reserve an asset, send the file to the storage host FLORA names, then complete it. */
async function uploadSigned(ctx: ToolContext, media: LocalMedia, placement: AssetPlacement): Promise<Asset> {
  ctx.progress(0, `reserving an upload for ${megabytes(media.size)}`);
  const call = { signal: ctx.signal };
  const { asset_id, target } = await ctx.client.createSignedUpload(
    { ...placement, file_name: media.fileName, content_type: media.contentType },
    newIdempotencyKey(),
    call,
  );
  const started = Date.now();
  // The bytes sent cannot be observed through fetch: progress follows time against a guess of 2 MB/s.
  const expectedMs = Math.max(5_000, media.size / 2_000);
  const ticker = setInterval(() => {
    const elapsed = Date.now() - started;
    const pct = 5 + 84 * (1 - Math.exp(-elapsed / expectedMs));
    ctx.progress(pct, `uploading ${megabytes(media.size)}, ${Math.round(elapsed / 1000)} s`);
  }, 1_000);
  try {
    await ctx.client.storageUpload(target, media.blob, media.fileName, call);
  } finally {
    clearInterval(ticker);
  }
  ctx.progress(90, 'uploaded; completing the asset');
  try {
    return await ctx.client.completeAsset(asset_id, call);
  } catch (err) {
    // 409: an earlier attempt of this complete may have landed; the asset's state decides.
    if (!(err instanceof FloraError) || err.status !== 409) throw err;
    const asset = await ctx.client.getAsset(asset_id, call);
    if (asset.status === 'pending_upload') throw err;
    return asset;
  }
}

function present(outcome: AssetOutcome, localKind: MediaKind | undefined, projectId: string | undefined): UploadResult {
  const { asset, waitedSeconds, pollError } = outcome;
  const result: UploadResult = { summary: '', asset_id: asset.asset_id, status: asset.status };
  if (asset.url) result.url = asset.url;
  if (asset.content_type) result.content_type = asset.content_type;
  if (typeof asset.size_bytes === 'number') result.size_bytes = asset.size_bytes;
  if (asset.status === 'ready') {
    const kind = (asset.content_type && ACCEPTED_MEDIA_TYPES[asset.content_type]) || localKind || 'other';
    const where = projectId ? `, also on project ${projectId}'s canvas` : '';
    result.summary = asset.url
      ? `Asset ${asset.asset_id} is ready${where}. ${USE[kind]}`
      : `Asset ${asset.asset_id} is ready${where}, but FLORA sent no url for it; it cannot be used as an input yet.`;
    return result;
  }
  const checking = pollError ? ` Checking it failed (${pollError.message}).` : '';
  result.summary =
    `Asset ${asset.asset_id} is still ${asset.status} after ${waitedSeconds} s: FLORA has not finished with it, so its url is not usable yet.${checking}` +
    ' Call upload_media again with the same source in a minute (that makes a new asset; this one is harmless).';
  return result;
}

/** What FLORA takes as an asset: the media types it accepts and the size limits of each way in. */

export type MediaKind = 'image' | 'video' | 'audio' | 'document';

/** FLORA's accepted types, each with the kind of input it is (a generation param or a technique input). */
export const ACCEPTED_MEDIA_TYPES: Readonly<Record<string, MediaKind>> = {
  'image/jpeg': 'image',
  'image/png': 'image',
  'image/webp': 'image',
  'image/gif': 'image',
  'image/avif': 'image',
  'image/heic': 'image',
  'image/heif': 'image',
  'video/mp4': 'video',
  'video/webm': 'video',
  'video/quicktime': 'video',
  'audio/mpeg': 'audio',
  'audio/wav': 'audio',
  'audio/ogg': 'audio',
  'application/pdf': 'document',
};

/** FLORA's limit for a direct (multipart) upload: "4 MB", read as the smaller 4,000,000 bytes. */
export const DIRECT_UPLOAD_MAX_BYTES = 4_000_000;

/**
 * This server's cap on a local file (signed upload), refused before any request. FLORA documents
 * none; 500 MB covers long 4K clips while bounding how long one call can hold a connection.
 */
export const UPLOAD_MAX_BYTES = 500_000_000;

/** Terminal asset statuses: a `ready` asset has its url, a `failed` one its failure_message. */
export const ASSET_TERMINAL: ReadonlySet<string> = new Set(['ready', 'failed']);

/** "4.2 MB": sizes as the agent reads them (decimal megabytes, as FLORA states its limits). */
export function megabytes(bytes: number): string {
  const mb = bytes / 1_000_000;
  return `${mb < 10 ? mb.toFixed(1) : Math.round(mb)} MB`;
}

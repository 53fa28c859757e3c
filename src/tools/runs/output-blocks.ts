/**
 * A run's outputs as content blocks after the JSON: a resource_link per media output (public
 * URL, MIME type from the extension, else from the output type), text outputs as text. No base64.
 */
import type { ContentBlock } from '@modelcontextprotocol/sdk/types.js';
import type { RunOutput } from '../../flora/schemas.js';

const MIME: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  avif: 'image/avif',
  svg: 'image/svg+xml',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mov: 'video/quicktime',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  ogg: 'audio/ogg',
  m4a: 'audio/mp4',
  flac: 'audio/flac',
  aac: 'audio/aac',
  pdf: 'application/pdf',
  txt: 'text/plain',
  md: 'text/markdown',
  json: 'application/json',
};
/** When the extension says nothing, the output type names the family's most common format. */
const BY_TYPE: Record<string, string> = {
  imageUrl: 'image/png',
  videoUrl: 'video/mp4',
  audioUrl: 'audio/mpeg',
  documentUrl: 'application/pdf',
};

function mimeTypeOf(output: RunOutput): string {
  let ext = '';
  try {
    const last = new URL(output.url).pathname.split('/').pop() ?? '';
    ext = last.includes('.') ? (last.split('.').pop() ?? '').toLowerCase() : '';
  } catch {
    ext = '';
  }
  return MIME[ext] ?? BY_TYPE[output.type] ?? 'application/octet-stream';
}

/** Content blocks after the JSON: a resource_link per media output, text outputs as text. */
export function outputBlocks(outputs: readonly RunOutput[] | null | undefined): ContentBlock[] {
  const blocks: ContentBlock[] = [];
  for (const [i, output] of (outputs ?? []).entries()) {
    if (output.type === 'text') {
      blocks.push({ type: 'text', text: output.url });
      continue;
    }
    let url: URL;
    try {
      url = new URL(output.url);
    } catch {
      continue;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') continue;
    const file = decodeURIComponent(url.pathname.split('/').pop() ?? '') || `${output.output_id || `output-${i}`}`;
    blocks.push({
      type: 'resource_link',
      uri: output.url,
      name: file,
      title: `${output.type} ${i + 1}`,
      mimeType: mimeTypeOf(output),
      description: `Generated ${output.type.replace(/Url$/, '')} (public link).`,
    });
  }
  return blocks;
}

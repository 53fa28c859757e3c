/** Bringing the user's own media into FLORA, as the URLs generations and techniques take; and seeing FLORA's. */
import type { ToolFactory } from '../tool.js';
import { previewMedia } from './preview-media.js';
import { uploadMedia } from './upload-media.js';

export const mediaTools: readonly ToolFactory[] = [uploadMedia, previewMedia];

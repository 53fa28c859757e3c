/** Bringing the user's own media into FLORA, as the URLs generations and techniques take. */
import type { ToolFactory } from '../tool.js';
import { uploadMedia } from './upload-media.js';

export const mediaTools: readonly ToolFactory[] = [uploadMedia];

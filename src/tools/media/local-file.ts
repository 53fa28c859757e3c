/**
 * upload_media's source, and the guards between an agent's argument and the user's disk. A local
 * file goes out only when every check passes, in this order, each before anything is read:
 * stdio only (over HTTP the disk is the server's); an absolute path; inside the client's MCP roots
 * when it declares them, symlinks followed; a regular, non-empty file under UPLOAD_MAX_BYTES; and
 * by its content (magic bytes, never its name) one of the types FLORA accepts. A refusal never
 * quotes the file. What is checked is what is sent: the file is opened once as a file-backed Blob
 * at its real path, sniffed and streamed from that Blob, and Node refuses to read it further if
 * the file changes in between.
 */
import { openAsBlob } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { basename, isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SourceRefusedError } from '../../errors.js';
import { ACCEPTED_MEDIA_TYPES, megabytes, UPLOAD_MAX_BYTES, type MediaKind } from '../../flora/assets.js';
import type { ToolContext } from '../tool.js';

export type MediaSource = { kind: 'url'; url: string } | { kind: 'file'; path: string };

export interface LocalMedia {
  /** Streams from disk; never loaded whole. */
  blob: Blob;
  fileName: string;
  contentType: string;
  kind: MediaKind;
  size: number;
}

const ACCEPTED_LIST =
  'JPEG, PNG, WebP, GIF, AVIF and HEIC/HEIF images; MP4, WebM and QuickTime video; MP3, WAV and Ogg audio; PDF';

/** A public https URL, or a local file given as an absolute path or a file:// URL; else why not. */
function classify(source: string): MediaSource | { problem: string } {
  if (isAbsolute(source)) return { kind: 'file', path: source };
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(source)?.[1]?.toLowerCase();
  if (scheme === 'https') {
    try {
      return { kind: 'url', url: new URL(source).href };
    } catch {
      return { problem: 'not a valid https:// URL' };
    }
  }
  if (scheme === 'file') {
    try {
      return { kind: 'file', path: fileURLToPath(source) };
    } catch {
      return { problem: 'not a file:// URL of a file on this machine (file:///absolute/path)' };
    }
  }
  if (scheme === 'http') return { problem: 'plain http:// is not accepted; FLORA fetches only https:// URLs' };
  if (scheme !== undefined && scheme.length > 1) {
    return { problem: `"${scheme}:" sources are not supported; pass a public https:// URL or an absolute local path` };
  }
  return {
    problem: "a relative path (or ~) cannot be resolved: the server's working directory is not the user's; pass an absolute path",
  };
}

/** Why `source` cannot be one, for the input schema to refuse it; undefined when it can. */
export function sourceProblem(source: string): string | undefined {
  const c = classify(source);
  return 'problem' in c ? c.problem : undefined;
}

/** The source the schema accepted (sourceProblem found none). */
export function parseSource(source: string): MediaSource {
  const c = classify(source);
  if ('problem' in c) throw new Error(`parseSource on a refused source: ${c.problem}`);
  return c;
}

/** The file at `path`, checked and opened for streaming; throws SourceRefusedError on any guard. */
export async function openLocalMedia(path: string, ctx: Pick<ToolContext, 'transport' | 'roots'>): Promise<LocalMedia> {
  if (ctx.transport === 'http') {
    throw SourceRefusedError.of(
      "source is a local path, but this server runs over HTTP: a path would name a file on the server's machine, not the user's. Pass a public https:// URL of the media instead.",
    );
  }
  const roots = await clientRoots(ctx);
  let real: string;
  try {
    real = await realpath(path);
  } catch (err) {
    // Outside the roots, whether the file exists is none of the agent's business.
    if (roots !== undefined && !(await insideRoots(resolve(path), roots))) throw outsideRoots(path, roots);
    throw unreadable(path, err);
  }
  if (roots !== undefined && !(await insideRoots(real, roots))) throw outsideRoots(path, roots);

  const info = await stat(real).catch((err: unknown) => {
    throw unreadable(path, err);
  });
  if (!info.isFile()) throw SourceRefusedError.of(`${path} is not a regular file (a directory, device or pipe).`);
  if (info.size === 0) throw SourceRefusedError.of(`${path} is empty.`);
  if (info.size > UPLOAD_MAX_BYTES) {
    throw SourceRefusedError.of(
      `${path} is ${megabytes(info.size)}; upload_media takes files up to ${megabytes(UPLOAD_MAX_BYTES)}. Compress or trim it first. Nothing was sent.`,
    );
  }

  const file = await openAsBlob(real).catch((err: unknown) => {
    throw unreadable(path, err);
  });
  // Loaded on first use: the stdio server's cold start does not pay for it.
  const { fileTypeFromBlob } = await import('file-type');
  const detected = await fileTypeFromBlob(file).catch(() => undefined);
  const kind = detected && ACCEPTED_MEDIA_TYPES[detected.mime];
  if (!detected || !kind) {
    // Naming a detected media type helps (convert it); naming any other kind of file says too much.
    const what =
      detected && /^(image|video|audio)\//.test(detected.mime)
        ? `${detected.mime}, which FLORA does not take`
        : 'not media FLORA accepts';
    throw SourceRefusedError.of(
      `${path} is ${what} (judged by its content, not its name). FLORA takes ${ACCEPTED_LIST}. Nothing was sent.`,
    );
  }
  return {
    blob: file.slice(0, file.size, detected.mime),
    fileName: basename(path),
    contentType: detected.mime,
    kind,
    size: file.size,
  };
}

async function clientRoots(ctx: Pick<ToolContext, 'roots'>): Promise<readonly string[] | undefined> {
  try {
    return await ctx.roots();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw SourceRefusedError.of(
      `The client declares MCP roots but did not list them (${reason}), so no local file can be checked against them. Pass a public https:// URL instead, or try again.`,
    );
  }
}

/** Whether `real` lies in one of the roots, each resolved to its own real path. */
async function insideRoots(real: string, roots: readonly string[]): Promise<boolean> {
  for (const uri of roots) {
    let root: string;
    try {
      root = await realpath(fileURLToPath(uri));
    } catch {
      continue; // not a file:// URI, or no such folder here
    }
    const rel = relative(root, real);
    if (rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel))) return true;
  }
  return false;
}

function outsideRoots(path: string, roots: readonly string[]): SourceRefusedError {
  const shared = roots.map((uri) => {
    try {
      return fileURLToPath(uri);
    } catch {
      return uri;
    }
  });
  return SourceRefusedError.of(
    `${path} is outside the folders the client shares with this server (its MCP roots: ${shared.join(', ') || 'none'}); symlinks are followed before this check. Ask the user to share the folder in the client, or to copy the file into a shared one.`,
  );
}

function unreadable(path: string, err: unknown): SourceRefusedError {
  const code = (err as { code?: string })?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return SourceRefusedError.of(`No file at ${path}. Check the absolute path.`);
  if (code === 'EACCES' || code === 'EPERM') return SourceRefusedError.of(`The server may not read ${path} (permission denied).`);
  return SourceRefusedError.of(`${path} cannot be read (${code ?? 'unknown error'}).`);
}

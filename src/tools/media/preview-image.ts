/**
 * A small, faithful preview of one image: PNG, JPEG or WebP in, a JPEG whose longest side is at
 * most `size` out, aspect ratio kept, never enlarged. Loaded only on the first preview_media call
 * (a dynamic import), so the server's start does not pay for the codecs: pngjs (PNG, inflated by
 * node:zlib), jpeg-js (JPEG in and out) and libwebp compiled to WebAssembly (@cwasm/webp's
 * decoder; its bytes are inlined in the bundle). The resize is an area average: every source
 * pixel counts, in proportion to how much of it each preview pixel covers, so nothing aliases.
 *
 * The common PNG (8 bits a channel, not interlaced: what generators write) is decoded here, row
 * by row straight into the resize, so a 4096 px image never exists as 64 MB of RGBA; pngjs
 * decodes every other PNG whole.
 */
import { inflateSync } from 'node:zlib';
import webpWasm from '@cwasm/webp/webp.wasm';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';

export type ImageFormat = 'png' | 'jpeg' | 'webp';

export interface ImageInfo {
  format: ImageFormat;
  width: number;
  height: number;
}

export interface Preview {
  width: number;
  height: number;
  previewWidth: number;
  previewHeight: number;
  /** JPEG bytes. */
  jpeg: Uint8Array;
}

/**
 * Decoding needs 4 bytes a pixel: 40 megapixels (8K UHD is 33) is 160 MB of memory. Past that, a
 * file of a few megabytes (a flat PNG) could claim gigabytes.
 */
export const MAX_PIXELS = 40_000_000;
const JPEG_QUALITY = 80;

interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

/** An image read one RGBA row at a time, rows asked for in order (a row may be asked for again). */
interface Rows {
  width: number;
  height: number;
  row(y: number): Uint8Array;
}

function rowsOf(image: Rgba): Rows {
  const stride = image.width * 4;
  return { width: image.width, height: image.height, row: (y) => image.data.subarray(y * stride, (y + 1) * stride) };
}

/** The format and size from the file's first bytes, or undefined when it is not PNG, JPEG or WebP. */
export function imageInfo(b: Uint8Array): ImageInfo | undefined {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const ascii = (at: number, n: number) => String.fromCharCode(...b.subarray(at, at + n));
  if (b.length >= 24 && view.getUint32(0) === 0x89504e47 && ascii(12, 4) === 'IHDR') {
    return { format: 'png', width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) return jpegInfo(b, view);
  if (b.length >= 30 && ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WEBP') {
    const chunk = ascii(12, 4);
    if (chunk === 'VP8 ')
      return { format: 'webp', width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
    if (chunk === 'VP8L') {
      const bits = view.getUint32(21, true);
      return { format: 'webp', width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
    }
    if (chunk === 'VP8X') {
      const u24 = (at: number) => view.getUint16(at, true) + (b[at + 2]! << 16);
      return { format: 'webp', width: u24(24) + 1, height: u24(27) + 1 };
    }
  }
  return undefined;
}

/** A JPEG's size from its frame header (SOF0-SOF15, not DHT, JPG or DAC), walking the segments. */
function jpegInfo(b: Uint8Array, view: DataView): ImageInfo | undefined {
  let at = 2;
  while (at + 9 < b.length) {
    if (b[at] !== 0xff) return undefined;
    const marker = b[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { format: 'jpeg', width: view.getUint16(at + 7), height: view.getUint16(at + 5) };
    }
    at += 2 + view.getUint16(at + 2);
  }
  return undefined;
}

/**
 * Why an image is not previewed, in words for the agent. A plain Error: this module is built into a
 * file of its own (dist/lib/preview-image.cjs, loaded on the first preview) and imports none of
 * the server's modules, so that file holds the codecs alone; preview_media makes it a media_refused.
 */
export class ImageRefused extends Error {
  override readonly name = 'ImageRefused';
}

/**
 * The preview of an image imageInfo recognised; throws ImageRefused when it is too large or
 * broken. It consumes `bytes`: a PNG's are overwritten while decoding (a copy would cost memory).
 */
export function makePreview(bytes: Uint8Array, info: ImageInfo, size: number): Preview {
  if (info.width * info.height > MAX_PIXELS) {
    throw new ImageRefused(
      `The image is ${info.width}x${info.height} pixels; preview_media decodes at most ${MAX_PIXELS / 1_000_000} megapixels. Open the URL instead.`,
    );
  }
  let image: Rows;
  try {
    image = decode(bytes, info.format);
  } catch (err) {
    throw new ImageRefused(`The ${info.format.toUpperCase()} image could not be decoded (${(err as Error).message}).`);
  }
  const scale = Math.min(1, size / Math.max(image.width, image.height));
  const previewWidth = Math.max(1, Math.round(image.width * scale));
  const previewHeight = Math.max(1, Math.round(image.height * scale));
  const pixels = resizeOverWhite(image, previewWidth, previewHeight);
  const encoded = jpeg.encode({ data: pixels, width: previewWidth, height: previewHeight }, JPEG_QUALITY).data;
  return { width: image.width, height: image.height, previewWidth, previewHeight, jpeg: new Uint8Array(encoded) };
}

function decode(bytes: Uint8Array, format: ImageFormat): Rows {
  if (format === 'png') {
    return pngRows(bytes) ?? rowsOf(pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
  }
  if (format === 'jpeg') {
    const limits = { maxResolutionInMP: MAX_PIXELS / 1_000_000, maxMemoryUsageInMB: 1024 };
    return rowsOf(jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, ...limits }));
  }
  return rowsOf(decodeWebp(bytes));
}

/** Channels per pixel by PNG colour type: grey, RGB, palette index, grey and alpha, RGBA. */
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * An 8-bit, non-interlaced PNG as rows: its IDAT inflated once (node:zlib), each row unfiltered
 * when asked for and turned into RGBA. Undefined for anything else (16 or fewer than 8 bits,
 * interlaced, a transparent colour key), which pngjs decodes. Once it answers rows, `b` has been
 * overwritten (its image data moved together).
 */
function pngRows(b: Uint8Array): Rows | undefined {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const [width, height] = [view.getUint32(16), view.getUint32(20)];
  const [depth, colorType, interlace] = [b[24], b[25]!, b[28]];
  const channels = PNG_CHANNELS[colorType];
  if (depth !== 8 || interlace !== 0 || channels === undefined) return undefined;
  const idat: Array<[number, number]> = [];
  let palette: Uint8Array | undefined;
  let alphas: Uint8Array | undefined;
  for (let at = 8; at + 8 <= b.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...b.subarray(at + 4, at + 8));
    const data = b.subarray(at + 8, at + 8 + length);
    if (type === 'IDAT') idat.push([at + 8, length]);
    else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') {
      if (colorType !== 3) return undefined;
      alphas = data;
    } else if (type === 'IEND') break;
    at += 12 + length;
  }
  if (colorType === 3 && !palette) throw new Error('a palette PNG without its palette');
  // The IDAT chunks, moved together inside the downloaded bytes (no longer needed as a file), so
  // a 50 MB PNG is not copied once more before it is inflated.
  let end = 0;
  for (const [start, length] of idat) {
    if (start + length > b.length) throw new Error('the file is cut short');
    b.copyWithin(end, start, start + length);
    end += length;
  }
  const stride = width * channels;
  const size = height * (stride + 1);
  // One output chunk of the exact size (zlib would otherwise gather chunks and copy them), and no
  // more than that: data that inflates further is not a PNG of this size, whatever it claims.
  const raw = inflateSync(b.subarray(0, end), { chunkSize: Math.max(64, size), maxOutputLength: size });
  if (raw.length < size) throw new Error('the image data is cut short');
  let prev = new Uint8Array(stride);
  let cur = new Uint8Array(stride);
  const out = new Uint8Array(width * 4);
  let next = 0;
  let shown = -1;
  return {
    width,
    height,
    row(y) {
      if (y === shown) return out;
      for (; next <= y; next++) {
        [prev, cur] = [cur, prev];
        unfilter(raw, next * (stride + 1), cur, prev, channels);
      }
      toRgba(cur, out, colorType, palette, alphas);
      shown = y;
      return out;
    },
  };
}

/** One PNG row: its filter byte at `at`, then the filtered bytes, into `cur` (`prev` is the row above). */
function unfilter(raw: Uint8Array, at: number, cur: Uint8Array, prev: Uint8Array, bpp: number): void {
  const filter = raw[at]!;
  const n = cur.length;
  const line = raw.subarray(at + 1, at + 1 + n);
  if (filter === 0) cur.set(line);
  else if (filter === 1) for (let i = 0; i < n; i++) cur[i] = line[i]! + (i >= bpp ? cur[i - bpp]! : 0);
  else if (filter === 2) for (let i = 0; i < n; i++) cur[i] = line[i]! + prev[i]!;
  else if (filter === 3) for (let i = 0; i < n; i++) cur[i] = line[i]! + (((i >= bpp ? cur[i - bpp]! : 0) + prev[i]!) >> 1);
  else if (filter === 4) {
    for (let i = 0; i < n; i++) {
      const a = i >= bpp ? cur[i - bpp]! : 0;
      const up = prev[i]!;
      const c = i >= bpp ? prev[i - bpp]! : 0;
      const p = a + up - c;
      const pa = Math.abs(p - a);
      const pb = Math.abs(p - up);
      const pc = Math.abs(p - c);
      cur[i] = line[i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? up : c);
    }
  } else throw new Error(`unknown PNG row filter ${filter}`);
}

/** An unfiltered row of colour type 0, 2, 3, 4 or 6 (8 bits) as RGBA. */
function toRgba(row: Uint8Array, out: Uint8Array, colorType: number, palette?: Uint8Array, alphas?: Uint8Array): void {
  const width = out.length / 4;
  if (colorType === 6) {
    out.set(row);
    return;
  }
  for (let x = 0, o = 0; x < width; x++, o += 4) {
    if (colorType === 2) {
      out[o] = row[x * 3]!;
      out[o + 1] = row[x * 3 + 1]!;
      out[o + 2] = row[x * 3 + 2]!;
      out[o + 3] = 255;
    } else if (colorType === 3) {
      const i = row[x]!;
      out[o] = palette![i * 3] ?? 0;
      out[o + 1] = palette![i * 3 + 1] ?? 0;
      out[o + 2] = palette![i * 3 + 2] ?? 0;
      out[o + 3] = alphas?.[i] ?? 255;
    } else {
      const grey = row[colorType === 4 ? x * 2 : x]!;
      out[o] = grey;
      out[o + 1] = grey;
      out[o + 2] = grey;
      out[o + 3] = colorType === 4 ? row[x * 2 + 1]! : 255;
    }
  }
}

/** The WebAssembly API Node has (this project's TypeScript libs do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const { WebAssembly: wasmApi } = globalThis as unknown as { WebAssembly: WasmApi };

let webpModule: object | undefined;

interface WebpExports {
  memory: { buffer: ArrayBuffer };
  malloc(bytes: number): number;
  WebPDecodeRGBA(data: number, length: number, width: number, height: number): number;
}

/**
 * libwebp's WebPDecodeRGBA in a fresh instance per image: a WebAssembly memory never shrinks, so
 * an instance kept for the next call would hold the largest image's pixels for good.
 */
function decodeWebp(bytes: Uint8Array): Rgba {
  webpModule ??= new wasmApi.Module(webpWasm);
  const unused = () => {
    throw new Error('the WebP decoder tried to do I/O');
  };
  const instance = new wasmApi.Instance(webpModule, {
    wasi_snapshot_preview1: { fd_close: unused, fd_seek: unused, fd_write: unused },
  });
  const wasm = instance.exports as unknown as WebpExports;
  const input = wasm.malloc(bytes.byteLength);
  new Uint8Array(wasm.memory.buffer, input, bytes.byteLength).set(bytes);
  const dims = wasm.malloc(8);
  const output = wasm.WebPDecodeRGBA(input, bytes.byteLength, dims, dims + 4);
  if (output === 0) throw new Error('libwebp refused it');
  // The memory may have grown while decoding: views are taken only now.
  const [width, height] = new Uint32Array(wasm.memory.buffer, dims, 2) as unknown as [number, number];
  return { width, height, data: new Uint8Array(wasm.memory.buffer, output, width * height * 4) };
}

/** For each preview column (or row): the source pixels it covers, with the share each contributes. */
interface Spans {
  first: Int32Array;
  count: Int32Array;
  offset: Int32Array;
  weights: Float32Array;
}

function spans(source: number, target: number): Spans {
  const scale = source / target;
  const first = new Int32Array(target);
  const count = new Int32Array(target);
  const offset = new Int32Array(target);
  const weights: number[] = [];
  for (let o = 0; o < target; o++) {
    const from = o * scale;
    const to = Math.min(source, (o + 1) * scale);
    const i0 = Math.floor(from);
    const i1 = Math.min(source, Math.ceil(to));
    first[o] = i0;
    count[o] = i1 - i0;
    offset[o] = weights.length;
    for (let i = i0; i < i1; i++) weights.push((Math.min(to, i + 1) - Math.max(from, i)) / scale);
  }
  return { first, count, offset, weights: Float32Array.from(weights) };
}

/**
 * Area-average resize to width x height, composited over white (a JPEG has no transparency), as
 * opaque RGBA. Row by row: each source row is reduced horizontally once (the row two preview rows
 * share is kept), so memory stays a few rows whatever the source size.
 */
function resizeOverWhite(image: Rows, width: number, height: number): Uint8Array {
  const cols = spans(image.width, width);
  const rows = spans(image.height, height);
  const out = new Uint8Array(width * height * 4);
  const acc = new Float32Array(width * 3);
  const row = new Float32Array(width * 3);
  // The row two preview rows share (the last of one, the first of the next) is reduced once.
  let rowIndex = -1;
  const reduceRow = (y: number) => {
    if (y === rowIndex) return row;
    const src = image.row(y);
    for (let x = 0; x < width; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      const w0 = cols.offset[x]!;
      let p = cols.first[x]! * 4;
      for (let k = 0; k < cols.count[x]!; k++, p += 4) {
        const w = cols.weights[w0 + k]!;
        const a = src[p + 3]! / 255;
        const white = 255 * (1 - a);
        r += w * (src[p]! * a + white);
        g += w * (src[p + 1]! * a + white);
        b += w * (src[p + 2]! * a + white);
      }
      row[x * 3] = r;
      row[x * 3 + 1] = g;
      row[x * 3 + 2] = b;
    }
    rowIndex = y;
    return row;
  };
  for (let y = 0; y < height; y++) {
    acc.fill(0);
    const w0 = rows.offset[y]!;
    for (let k = 0; k < rows.count[y]!; k++) {
      const w = rows.weights[w0 + k]!;
      const reduced = reduceRow(rows.first[y]! + k);
      for (let i = 0; i < acc.length; i++) acc[i]! += w * reduced[i]!;
    }
    let p = y * width * 4;
    for (let x = 0; x < width * 3; x += 3, p += 4) {
      out[p] = Math.min(255, Math.round(acc[x]!));
      out[p + 1] = Math.min(255, Math.round(acc[x + 1]!));
      out[p + 2] = Math.min(255, Math.round(acc[x + 2]!));
      out[p + 3] = 255;
    }
  }
  return out;
}

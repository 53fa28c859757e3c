/**
 * Real images for preview_media's tests and bench, made here with the libraries the preview uses
 * (nothing binary is committed), and a reading of the preview JPEGs the agent gets back.
 */
import zlib from 'node:zlib';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';

export type Rgb = readonly [number, number, number];

export const RED: Rgb = [255, 0, 0];
export const GREEN: Rgb = [0, 255, 0];
export const BLUE: Rgb = [0, 0, 255];
export const WHITE: Rgb = [255, 255, 255];

/**
 * Quadrants: red top left, green top right, blue bottom left, fully transparent bottom right
 * (white in a preview). Where each colour lands in the preview shows orientation, aspect and alpha.
 */
export function quadrantsPng(width: number, height: number): Buffer {
  const key = `${width}x${height}`;
  let bytes = made.get(key);
  if (!bytes) {
    bytes = drawQuadrants(width, height);
    made.set(key, bytes);
  }
  return bytes;
}

/** Images already made, by size: a 4096 px PNG takes a few seconds to draw and compress. */
const made = new Map<string, Buffer>();

function drawQuadrants(width: number, height: number): Buffer {
  const png = new pngjs.PNG({ width, height });
  const quad = [
    [...RED, 255],
    [...GREEN, 255],
    [...BLUE, 255],
    [0, 0, 0, 0],
  ];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const q = quad[(y < height / 2 ? 0 : 2) + (x < width / 2 ? 0 : 1)]!;
      png.data.set(q, (y * width + x) * 4);
    }
  }
  // No row filters: flat colours compress well without them, and adaptive filtering is slow at 4096 px.
  return pngjs.PNG.sync.write(png, { deflateLevel: 1, filterType: 0 });
}

/**
 * A photo-like PNG: smooth gradients with per-pixel noise, so it compresses about as badly as a
 * real render (tens of MB at 4096 px): the bench's worst realistic case.
 */
export function noisyPng(width: number, height: number, seed = 1): Buffer {
  const png = new pngjs.PNG({ width, height });
  let s = seed;
  const rand = () => {
    s = (s * 1_103_515_245 + 12_345) >>> 0;
    return (s >>> 16) & 0xff;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      png.data[i] = ((x * 255) / width + (rand() >> 3)) & 0xff;
      png.data[i + 1] = ((y * 255) / height + (rand() >> 3)) & 0xff;
      png.data[i + 2] = rand();
      png.data[i + 3] = 255;
    }
  }
  return pngjs.PNG.sync.write(png, { deflateLevel: 6 });
}

/** The quadrants as a JPEG (no transparency: the fourth quadrant is white). */
export function quadrantsJpeg(width: number, height: number): Buffer {
  const data = new Uint8Array(width * height * 4);
  const quad = [RED, GREEN, BLUE, WHITE];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      data.set([...quad[(y < height / 2 ? 0 : 2) + (x < width / 2 ? 0 : 1)]!, 255], (y * width + x) * 4);
    }
  }
  return jpeg.encode({ data, width, height }, 90).data;
}

/**
 * 96x64 WebP files, red left half and blue right half, made once with libwebp's cwebp 1.5 (from a
 * PNG drawn as above) since no library here encodes WebP: lossy (VP8), lossless (VP8L), and lossy
 * with the right half transparent (VP8X with an alpha chunk; white in a preview).
 */
export const WEBP = {
  lossy:
    'UklGRnIAAABXRUJQVlA4IGYAAADQBQCdASpgAEAAPm02l0gkIyIhJqgAgA2JZQDVAQA/EDYseAfiB+qoA4aahNsjiaTFkegAZvGQAP7wm0MGnLCPmS5fV4Yr/+PcI9Lf795fL6vDFf/yA++F+W7FFsrAYWcAypFLAAA=',
  lossless: 'UklGRiwAAABXRUJQVlA4TB8AAAAvX8APAA8Q87//8x8O1LRtwJQ/6Y2gV0T/J4AT8/MAAA==',
  lossyAlpha:
    'UklGRqIAAABXRUJQVlA4WAoAAAAQAAAAXwAAPwAAQUxQSBUAAAABDzD/ERFCLJjMXzqHroj+R1UBzwMAVlA4IGYAAADQBQCdASpgAEAAPm02l0gkIyIhJqgAgA2JZQDVAQA/EDYseAfiB+qoA4aahNsjiaTFkegAZvGQAP7wm0MGnLCPmS5fV4Yr/+PcI9Lf795fL6vDFf/yA++F+W7FFsrAYWcAypFLAAA=',
} as const;

export function webp(kind: keyof typeof WEBP): Buffer {
  return Buffer.from(WEBP[kind], 'base64');
}

/** An MP4 header (ftyp isom) and zeros: what a video output's URL serves. */
export function mp4(bytes = 4096): Buffer {
  const out = Buffer.alloc(bytes);
  Buffer.from('000000186674797069736f6d0000020069736f6d69736f32', 'hex').copy(out);
  return out;
}

export interface DecodedPreview {
  width: number;
  height: number;
  /** The colour at a point given as fractions of width and height. */
  at(fx: number, fy: number): Rgb;
}

/** A preview JPEG as the agent gets it (base64), decoded. */
export function decodePreview(base64: string): DecodedPreview {
  const image = jpeg.decode(Buffer.from(base64, 'base64'), { useTArray: true, formatAsRGBA: true });
  return {
    width: image.width,
    height: image.height,
    at(fx, fy) {
      const i = (Math.floor(fy * image.height) * image.width + Math.floor(fx * image.width)) * 4;
      return [image.data[i]!, image.data[i + 1]!, image.data[i + 2]!];
    },
  };
}

/** Whether two colours match within JPEG's error at a flat area's centre. */
export function near(actual: Rgb, expected: Rgb, tolerance = 24): boolean {
  return actual.every((c, i) => Math.abs(c - expected[i]!) <= tolerance);
}

/**
 * A smooth gradient with noise and varying transparency, 256x192, written in the given PNG layout
 * by pngjs (adaptive row filters: every filter type occurs).
 */
export function gradientPng(options: { colorType: 0 | 2 | 4 | 6; bitDepth?: 8 | 16 }): Buffer {
  const [width, height] = [256, 192];
  const png = new pngjs.PNG({ width, height });
  let s = 7;
  const noise = () => {
    s = (s * 1_103_515_245 + 12_345) >>> 0;
    return ((s >>> 16) & 0x1f) - 16;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
      png.data.set(
        [clamp(x + noise()), clamp(y * 1.3 + noise()), clamp((x + y) / 2 + noise()), clamp(255 - x / 2)],
        (y * width + x) * 4,
      );
    }
  }
  return pngjs.PNG.sync.write(png, { colorType: options.colorType, bitDepth: options.bitDepth ?? 8 });
}

/** A PNG chunk: length, type, data, CRC. */
function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([head, body, crc]);
}

/** An 8-bit PNG of this colour type from its raw rows (filter byte then pixels, each row), and extra chunks before IDAT. */
function pngFile(width: number, height: number, colorType: number, rows: Buffer, extra: Buffer[] = []): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, colorType, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from('89504e470d0a1a0a', 'hex'),
    chunk('IHDR', ihdr),
    ...extra,
    chunk('IDAT', zlib.deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Quadrants as a palette PNG (colour type 3) whose fourth colour is transparent (tRNS): no library here writes one. */
export function palettePng(width: number, height: number): Buffer {
  const rows = Buffer.alloc(height * (width + 1));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rows[y * (width + 1) + 1 + x] = (y < height / 2 ? 0 : 2) + (x < width / 2 ? 0 : 1);
  }
  const palette = chunk('PLTE', Buffer.from([...RED, ...GREEN, ...BLUE, 0, 0, 0]));
  return pngFile(width, height, 3, rows, [palette, chunk('tRNS', Buffer.from([255, 255, 255, 0]))]);
}

/** A decompression bomb: a 16x16 RGBA PNG whose image data inflates to 200 MB of zeros (about 200 KB on the wire). */
export function bombPng(): Buffer {
  return pngFile(16, 16, 6, Buffer.alloc(200_000_000));
}

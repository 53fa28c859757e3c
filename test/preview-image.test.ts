/**
 * The preview's decoding and resizing, checked against an independent reading of the same file:
 * pngjs decodes the original, each 4x4 block is averaged over white, and the preview (a 4x smaller
 * JPEG) must match at every sampled point within JPEG's error. PNG layouts cover the row-by-row
 * decoder (8-bit grey, grey+alpha, RGB, RGBA, palette with transparency, every row filter) and
 * pngjs's (16-bit).
 */
import pngjs from 'pngjs';
import { describe, expect, it } from 'vitest';
import { ImageRefused, imageInfo, makePreview } from '../src/tools/media/preview-image.js';
import {
  BLUE,
  bombPng,
  decodePreview,
  GREEN,
  gradientPng,
  near,
  palettePng,
  RED,
  WHITE,
  type Rgb,
} from './helpers/test-images.js';

/** The 4x4 block at preview pixel (px, py) of the original, averaged over white: what the preview should show. */
function expectedAt(original: Buffer, px: number, py: number): Rgb {
  const image = pngjs.PNG.sync.read(original);
  const sum = [0, 0, 0];
  for (let y = py * 4; y < py * 4 + 4; y++) {
    for (let x = px * 4; x < px * 4 + 4; x++) {
      const i = (y * image.width + x) * 4;
      const a = image.data[i + 3]! / 255;
      for (let c = 0; c < 3; c++) sum[c]! += image.data[i + c]! * a + 255 * (1 - a);
    }
  }
  return sum.map((v) => Math.round(v / 16)) as unknown as Rgb;
}

describe('makePreview', () => {
  it.each([
    ['8-bit grey', { colorType: 0 as const }],
    ['8-bit grey with alpha', { colorType: 4 as const }],
    ['8-bit RGB', { colorType: 2 as const }],
    ['8-bit RGBA', { colorType: 6 as const }],
    ['16-bit RGBA (pngjs)', { colorType: 6 as const, bitDepth: 16 as const }],
    ['16-bit RGB (pngjs)', { colorType: 2 as const, bitDepth: 16 as const }],
  ])('a %s PNG previews as the average of the original over white', (_label, layout) => {
    const original = gradientPng(layout);
    const info = imageInfo(original)!;
    expect(info).toEqual({ format: 'png', width: 256, height: 192 });
    const preview = makePreview(Buffer.from(original), info, 64);
    expect([preview.previewWidth, preview.previewHeight]).toEqual([64, 48]);
    const shown = decodePreview(Buffer.from(preview.jpeg).toString('base64'));
    const misses: string[] = [];
    for (let py = 2; py < 48; py += 5) {
      for (let px = 2; px < 64; px += 7) {
        const want = expectedAt(original, px, py);
        const got = shown.at((px + 0.5) / 64, (py + 0.5) / 48);
        if (!near(got, want, 16)) misses.push(`(${px},${py}) ${got} != ${want}`);
      }
    }
    expect(misses).toEqual([]);
  });

  it('a palette PNG with a transparent entry shows its colours, the transparent one as white', () => {
    const original = palettePng(40, 30);
    const preview = makePreview(original, imageInfo(original)!, 20);
    const shown = decodePreview(Buffer.from(preview.jpeg).toString('base64'));
    expect([shown.width, shown.height]).toEqual([20, 15]);
    const seen = [shown.at(0.25, 0.25), shown.at(0.75, 0.25), shown.at(0.25, 0.75), shown.at(0.75, 0.75)];
    expect(seen.map((c, i) => near(c, [RED, GREEN, BLUE, WHITE][i]!))).toEqual([true, true, true, true]);
  });

  it('refuses a PNG whose image data is cut short, as media_refused', () => {
    const whole = gradientPng({ colorType: 6 });
    const cut = whole.subarray(0, whole.length / 2);
    expect(() => makePreview(cut, imageInfo(cut)!, 64)).toThrow(ImageRefused);
  });

  it('refuses a PNG whose image data inflates past its stated size (a decompression bomb), as media_refused', () => {
    const bomb = bombPng();
    expect(bomb.byteLength).toBeLessThan(1_000_000);
    expect(() => makePreview(bomb, imageInfo(bomb)!, 64)).toThrow(ImageRefused);
  });

  it('does not take a text file, a GIF or a truncated header for an image', () => {
    expect(imageInfo(Buffer.from('hello, this is not an image at all'))).toBeUndefined();
    expect(imageInfo(Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00', 'latin1'))).toBeUndefined();
    expect(imageInfo(Buffer.from('89504e47', 'hex'))).toBeUndefined();
  });
});

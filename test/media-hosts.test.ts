/**
 * The rule preview_media applies to every URL and redirect hop before it is requested. The tool
 * tests show refused URLs are never fetched; here, which URLs pass (FLORA's real hosts cannot be
 * fetched from a test).
 */
import { describe, expect, it } from 'vitest';
import { mediaUrlProblem } from '../src/flora/media-hosts.js';

const allowed = (url: string, extra: string[] = []) => mediaUrlProblem(new URL(url), extra) === undefined;

describe('mediaUrlProblem', () => {
  it.each([
    'https://media.flora.ai/2026/05/01/abc/mug.png',
    'https://ik.imagekit.io/flora/a.png',
    'https://cdn.flora.ai/a.webp',
    'https://flora.ai/a.png',
    'https://MEDIA.FLORA.AI:443/a.png',
  ])("fetches FLORA's media over https: %s", (url) => {
    expect(allowed(url)).toBe(true);
  });

  it.each([
    'http://media.flora.ai/a.png',
    'https://evilflora.ai/a.png',
    'https://media.flora.ai.example.com/a.png',
    'https://imagekit.io/a.png',
    'https://user:pw@media.flora.ai/a.png',
    'ftp://media.flora.ai/a.png',
    'http://127.0.0.1:8080/a.png',
    'https://127.0.0.1/a.png',
  ])('refuses anything else by default: %s', (url) => {
    expect(allowed(url)).toBe(false);
  });

  it('FLORA_MEDIA_HOSTS adds https hosts; *. matches subdomains only', () => {
    const extra = ['mirror.example.com', '*.cdn.example.com'];
    expect(allowed('https://mirror.example.com/a.png', extra)).toBe(true);
    expect(allowed('https://a.cdn.example.com/a.png', extra)).toBe(true);
    expect(allowed('https://cdn.example.com/a.png', extra)).toBe(false);
    expect(allowed('https://evilmirror.example.com/a.png', extra)).toBe(false);
  });

  it('plain http only for a loopback host that is listed', () => {
    expect(allowed('http://127.0.0.1:8080/a.png', ['127.0.0.1'])).toBe(true);
    expect(allowed('http://[::1]:8080/a.png', ['[::1]'])).toBe(true);
    expect(allowed('http://localhost:8080/a.png', ['127.0.0.1'])).toBe(false);
    expect(allowed('http://mirror.example.com/a.png', ['mirror.example.com'])).toBe(false);
    expect(mediaUrlProblem(new URL('http://mirror.example.com/a.png'), ['mirror.example.com'])).toBe(
      'plain http (mirror.example.com) is fetched only from a loopback host listed in FLORA_MEDIA_HOSTS; only https on media.flora.ai, ik.imagekit.io, *.flora.ai or mirror.example.com is fetched',
    );
  });
});

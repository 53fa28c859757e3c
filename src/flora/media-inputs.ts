/**
 * Which media a FLORA model takes as input, and under which params. POST /generate has no inputs
 * field: a source image, video or audio goes into `params` as a URL, and GET /models often does not
 * list those params, so a model's ID prefix and its `capabilities` are what tell that it takes
 * media. Which param name a family honours, and which it silently ignores while FLORA bills the
 * run, comes from production runs reported in FLORA's own agent-skills repository ("measured"
 * below). Only what that says, or FLORA's naming plainly implies, is encoded here; any other
 * media param stays an unknown param.
 */
import type { FieldIssue } from '../errors.js';
import type { Model } from './schemas.js';
import { FLORA_MEDIA_HOSTS, isFloraMediaHost } from './media-hosts.js';

export type MediaKind = 'image' | 'video' | 'audio';

const KINDS: readonly MediaKind[] = ['image', 'video', 'audio'];

/** Each kind's param names: `one` takes a URL, `many` a list of URLs. */
export const MEDIA_PARAMS: Readonly<Record<MediaKind, { one: string; many: string }>> = {
  image: { one: 'image_url', many: 'image_urls' },
  video: { one: 'video_url', many: 'video_urls' },
  audio: { one: 'audio_url', many: 'audio_urls' },
};

type Verdict =
  | { verdict: 'accept' }
  /** Accepted with this warning: FLORA has not said whether the model reads it. */
  | { verdict: 'warn'; reason: string }
  /** Refused with this reason: FLORA measured it ignored while the run is billed. */
  | { verdict: 'refuse'; reason: string };

/** What this server does with a media param a model takes when the catalog does not list it. */
export type MediaParamRule = { kind: MediaKind; shape: 'one' | 'many' } & Verdict;

interface Family {
  kind: MediaKind;
  /** Matches the model by a documented ID prefix, or by one of its capability tags. */
  byId?: (id: string) => boolean;
  byCapability?: (tag: string) => boolean;
  rules(modelId: string): Record<'one' | 'many', Verdict>;
}

const accept: Verdict = { verdict: 'accept' };
const refuse = (reason: string): Verdict => ({ verdict: 'refuse', reason });

const singularOnly = (family: string) => () => ({
  one: accept,
  many: refuse(`use image_url (one URL): ${family} models ignore image_urls and FLORA still bills the run (measured by FLORA)`),
});

const pluralOnly = (kind: 'image' | 'video') => () => ({
  one: refuse(
    `use ${kind}_urls (a list, also for one ${kind}): given ${kind}_url, vision models answer without seeing the ${kind} and FLORA still bills the run (measured by FLORA)`,
  ),
  many: accept,
});

const V2V_REASON =
  "FLORA measured that video-to-video models ignore video_url and bill the run as text-to-video, and its REST API documents no other way to pass the video (FLORA's workaround, a canvas edge, is not in it), so this server cannot give this model its video";

/**
 * First match wins per kind, and families matched by ID come before those matched by capability:
 * the prefix is what FLORA's measurements were made on.
 */
const FAMILIES: readonly Family[] = [
  // Measured: "multi-reference video r2v-… and some i2v-…-references models: undocumented. Verify
  // before use. Only one image_url is honoured on the hosted tool." Before i2v, which it would match.
  {
    kind: 'image',
    byId: (id) => id.startsWith('r2v-') || (id.startsWith('i2v-') && id.includes('-references')),
    rules: (id) => ({
      one: accept,
      many: {
        verdict: 'warn',
        reason: `FLORA has not documented whether ${id} reads image_urls; only one image_url is known to be honoured. Check the result, or pass one image_url`,
      },
    }),
  },
  // Measured: image-to-image i2i-… and image-to-video i2v-… take image_url; image_urls is ignored and billed.
  { kind: 'image', byId: (id) => id.startsWith('i2i-'), byCapability: (t) => t === 'image-to-image', rules: singularOnly('i2i') },
  { kind: 'image', byId: (id) => id.startsWith('i2v-'), byCapability: (t) => t === 'image-to-video', rules: singularOnly('i2v') },
  // Measured: vision/judge models i2t-…, v2t-… take image_urls / video_urls; the singular answers blind.
  { kind: 'image', byId: (id) => id.startsWith('i2t-'), byCapability: (t) => t === 'image-to-text', rules: pluralOnly('image') },
  { kind: 'video', byId: (id) => id.startsWith('v2t-'), byCapability: (t) => t === 'video-to-text', rules: pluralOnly('video') },
  // Measured: video-to-video takes video_url, "silently ignored and billed as text-to-video". The prefix
  // v2v- follows FLORA's naming (t2v, i2v, v2t); the plural is refused too, as nothing says it works.
  {
    kind: 'video',
    byId: (id) => id.startsWith('v2v-'),
    byCapability: (t) => t === 'video-to-video',
    rules: () => ({ one: refuse(V2V_REASON), many: refuse(V2V_REASON) }),
  },
  // FLORA's notes: "the prefix and capabilities are what tell that a model takes media". Any other
  // "<medium>-to-…" capability (e.g. audio-to-video) shows that input; FLORA measured no trap for
  // it, so both names pass. No audio-input prefix is documented, so audio comes only from here.
  ...KINDS.map(
    (kind): Family => ({ kind, byCapability: (t) => t.startsWith(`${kind}-to-`), rules: () => ({ one: accept, many: accept }) }),
  ),
];

function capabilityTags(model: Pick<Model, 'capabilities'>): string[] {
  return (model.capabilities ?? []).map((t) =>
    t
      .trim()
      .toLowerCase()
      .replace(/[\s_]+/g, '-'),
  );
}

/** The families that decide each kind the model takes, in KINDS order. */
function familiesOf(model: Pick<Model, 'model_id' | 'capabilities'>): Map<MediaKind, Family> {
  const tags = capabilityTags(model);
  const found = new Map<MediaKind, Family>();
  const candidates = [
    ...FAMILIES.filter((f) => f.byId?.(model.model_id)),
    ...FAMILIES.filter((f) => f.byCapability && tags.some((t) => f.byCapability!(t))),
  ];
  for (const family of candidates) if (!found.has(family.kind)) found.set(family.kind, family);
  return new Map(KINDS.filter((k) => found.has(k)).map((k) => [k, found.get(k)!]));
}

/** The media a model takes as input, from its ID prefix and capabilities; empty for text-only models. */
export function mediaInputs(model: Pick<Model, 'model_id' | 'capabilities'>): MediaKind[] {
  return [...familiesOf(model).keys()];
}

/** What to do with each media param name this model takes (whether or not the catalog lists it). */
export function mediaParamRules(model: Pick<Model, 'model_id' | 'capabilities'>): Map<string, MediaParamRule> {
  const rules = new Map<string, MediaParamRule>();
  for (const [kind, family] of familiesOf(model)) {
    const byShape = family.rules(model.model_id);
    for (const shape of ['one', 'many'] as const) {
      rules.set(MEDIA_PARAMS[kind][shape], { kind, shape, ...byShape[shape] });
    }
  }
  return rules;
}

/** The kind of a media param name (image_url, video_urls …), or undefined for any other name. */
export function mediaKindOf(name: string): { kind: MediaKind; shape: 'one' | 'many' } | undefined {
  for (const kind of KINDS) {
    if (MEDIA_PARAMS[kind].one === name) return { kind, shape: 'one' };
    if (MEDIA_PARAMS[kind].many === name) return { kind, shape: 'many' };
  }
  return undefined;
}

const UPLOAD_HINT = 'upload the file with upload_media and pass the url it returns';

/**
 * Checks media param values (URLs) and collects, per concern, the fields whose URL FLORA may not
 * be able to fetch. A value only a mistake would send (a file name, a data: URI) is an issue; a
 * URL on a host FLORA may not fetch from is a warning, never a refusal.
 */
export class MediaValueCheck {
  private readonly notes: string[] = [];
  private readonly privateFields: string[] = [];
  private readonly outsideFields: string[] = [];

  /**
   * The problems with one param's value, each naming its field (`params.image_urls[1]`).
   * `shape` 'either' (a param the catalog lists) takes a URL or a list of URLs as given.
   */
  check(field: string, value: unknown, shape: 'one' | 'many' | 'either'): FieldIssue[] {
    if (value === null || value === undefined) return []; // null means "not given", as for any param
    if (shape === 'one' || (shape === 'either' && !Array.isArray(value))) return this.checkOne(field, value);
    if (!Array.isArray(value)) {
      const fix = typeof value === 'string' ? `use [${show(value)}]` : `got ${show(value)}`;
      return [{ field, message: `must be a list of http(s) URLs (${fix})` }];
    }
    if (value.length === 0) return [{ field, message: 'must list at least one http(s) URL' }];
    return value.flatMap((item, i) => this.checkOne(`${field}[${i}]`, item));
  }

  /** A warning to add for `field`, e.g. a param FLORA has not said the model reads. */
  note(field: string, reason: string): void {
    this.notes.push(`${field}: ${reason}.`);
  }

  /** The warnings for the agent: notes, then one sentence per host concern. */
  warnings(): string[] {
    const out = [...this.notes];
    if (this.privateFields.length > 0) {
      out.push(
        `${list(this.privateFields)} ${verb(this.privateFields)} a local or private address FLORA's servers cannot reach: ${UPLOAD_HINT}.`,
      );
    }
    if (this.outsideFields.length > 0) {
      out.push(
        `${list(this.outsideFields)} ${this.outsideFields.length === 1 ? 'is not an https URL' : 'are not https URLs'} on FLORA's media hosts (${FLORA_MEDIA_HOSTS.join(', ')}), which FLORA may fail to fetch; FLORA advises re-hosting media first: if the run fails or ignores it, ${UPLOAD_HINT}.`,
      );
    }
    return out;
  }

  private checkOne(field: string, value: unknown): FieldIssue[] {
    const url = typeof value === 'string' ? httpUrl(value) : undefined;
    if (!url) return [{ field, message: `must be an http(s) URL (got ${show(value)}); for a local file, ${UPLOAD_HINT}` }];
    if (isPrivateHost(url.hostname)) this.privateFields.push(field);
    else if (url.protocol !== 'https:' || !isFloraMediaHost(url.hostname)) this.outsideFields.push(field);
    return [];
  }
}

/** The URL when `value` is an absolute http(s) URL with a host and nothing around it, else undefined. */
function httpUrl(value: string): URL | undefined {
  if (!/^https?:\/\/\S+$/i.test(value)) return undefined;
  try {
    const url = new URL(value);
    return url.hostname ? url : undefined;
  } catch {
    return undefined;
  }
}

/** Loopback, link-local, private-range and local-only names: unreachable from FLORA's servers. */
function isPrivateHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || /\.(localhost|local|internal)$/.test(host)) return true;
  const v4 = /^(\d+)\.(\d+)\.\d+\.\d+$/.exec(host);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  if (host.includes(':')) return host === '::1' || host === '::' || /^f[cd]/.test(host) || /^fe[89ab]/.test(host);
  return false;
}

/** A value for a message, cut short: a data: URI can be megabytes. */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function list(fields: readonly string[]): string {
  return fields.join(', ');
}

function verb(fields: readonly string[]): string {
  return fields.length === 1 ? 'points at' : 'point at';
}

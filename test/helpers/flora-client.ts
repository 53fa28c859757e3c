/** A FloraClient against the fake FLORA, tuned for fast tests, and the error a call must throw. */
import { expect } from 'vitest';
import { FloraError } from '../../src/errors.js';
import { FloraClient, type FloraClientOptions } from '../../src/flora/client.js';
import type { GenerateBody } from '../../src/flora/schemas.js';
import { FAKE_KEY, type FakeFlora } from './fake-flora.js';

/** A valid generation body, with a model, for the client tests. */
export const BODY: GenerateBody = {
  workspace_id: 'ws_studio',
  project_id: 'prj_poster',
  prompt: 'a red fox in the snow',
  type: 'image',
  model: 't2i-flux-2-pro',
};

/** The fake's client with the user's defaults, but backoff of a few ms so retry tests stay fast. */
export function fastClient(fake: FakeFlora, overrides: Partial<FloraClientOptions> = {}): FloraClient {
  return new FloraClient({
    apiKey: FAKE_KEY,
    baseUrl: new URL(fake.baseUrl),
    timeoutMs: 5_000,
    maxRetries: 2,
    baseBackoffMs: 5,
    maxBackoffMs: 20,
    ...overrides,
  });
}

/** The FloraError `call` rejects with; fails the test when it resolves or throws anything else. */
export async function rejection(call: () => Promise<unknown>): Promise<FloraError> {
  let result: unknown;
  try {
    result = await call();
  } catch (err) {
    expect(err).toBeInstanceOf(FloraError);
    return err as FloraError;
  }
  throw new Error(`expected the call to fail, it returned ${JSON.stringify(result)}`);
}

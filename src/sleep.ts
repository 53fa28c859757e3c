import { CancelledError } from './errors.js';

/** setTimeout as a promise that a cancelled call interrupts with a `cancelled` error. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const cancelled = () => CancelledError.of('The call was cancelled by the client.');
    if (signal?.aborted) return reject(cancelled());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelled());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Waits for `done` (work in flight draining) or for `ms` to pass, whichever comes first; the timer
 * never keeps the process alive. Shutdown paths use it so a stuck call cannot hold them forever.
 */
export function settledWithin(done: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return Promise.race([done.then(() => undefined), deadline]).finally(() => clearTimeout(timer));
}

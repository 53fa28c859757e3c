/**
 * What a failed run's error_code means for a retry. FLORA documents two vocabularies: lowercase
 * codes in its spec and docs (provider_error, model_timeout, safety_blocked, ...) and the
 * UPPER_SNAKE codes it measured in production (GENERATION_PROVIDER_TIMEOUT, ...). Both are read
 * here; an unknown code gets "unknown: read error_message". A retry is always a new, billed run.
 */

export type RetryVerdict = 'retry_now' | 'retry_later' | 'change_input' | 'do_not_retry' | 'unknown';

export interface RetryAdvice {
  verdict: RetryVerdict;
  /** Whether starting the same generation again may succeed. */
  retry_may_help: boolean;
  advice: string;
}

const EXACT: Record<string, RetryVerdict> = {
  // spec / docs
  provider_error: 'retry_now',
  model_timeout: 'retry_now',
  internal_error: 'retry_now',
  safety_blocked: 'change_input',
  input_unreachable: 'change_input',
  // measured in production
  GENERATION_PROVIDER_TIMEOUT: 'retry_now',
  GPU_PROVIDER_ERROR: 'retry_now',
  GENERATION_GENERIC_ERROR: 'retry_now',
  GENERATION_FAILED_TO_START: 'retry_now',
  GENERATION_FAILED_TO_UPLOAD: 'retry_now',
  SERVER_ERROR: 'retry_now',
  GENERATION_DOWNSTREAM_SERVICE_ERROR: 'retry_later',
  GENERATION_QUEUE_TOO_LARGE: 'retry_later',
  GENERATION_CIRCUIT_BREAKER_OPEN: 'retry_later',
  GENERATION_NO_RESULT: 'retry_later',
  GENERATION_PROMPT_MODERATED: 'change_input',
  LLM_REFUSAL: 'change_input',
  GENERATION_INPUT_VALIDATION: 'change_input',
  GENERATION_INVALID_PARAMS: 'change_input',
  GENERATION_INVALID_URL: 'change_input',
  GENERATION_NOT_PAID: 'do_not_retry',
  GENERATION_CANCELLED: 'do_not_retry',
};

function verdictOf(code: string): RetryVerdict {
  const exact = EXACT[code];
  if (exact) return exact;
  if (/^(BILLING_|ACCESS_)/.test(code) || /_ENTITLEMENT_REQUIRED$/.test(code)) return 'do_not_retry';
  return 'unknown';
}

const TEXT: Record<RetryVerdict, string> = {
  retry_now:
    'A transient provider problem: starting the same generation again may succeed (a new, billed run; failed runs are generally refunded).',
  retry_later:
    'The provider is overloaded or returned nothing: wait a minute before starting it again (a new, billed run). Read error_message first: this code sometimes hides a safety refusal.',
  change_input: 'Retrying the same request will fail again: change the prompt, params or input URLs first.',
  do_not_retry: 'Do not retry: this is a billing, access or cancellation problem the user must resolve.',
  unknown: 'Unrecognised failure code: read error_message before deciding to start a new, billed run.',
};

export function retryAdvice(errorCode: string | null | undefined): RetryAdvice {
  const verdict = errorCode ? verdictOf(errorCode) : 'unknown';
  return {
    verdict,
    retry_may_help: verdict === 'retry_now' || verdict === 'retry_later',
    advice: TEXT[verdict],
  };
}

/**
 * Retries with exponential backoff and full jitter (the AWS architecture blog's recommendation:
 * spreads out clients that failed together). Only errors marked retryable are retried; an abort
 * stops the wait at once.
 */
import { errors, FerryError, throwIfAborted, toFerryError } from "@ferry/plugin-kit";

export interface RetryOptions {
  /** Attempts after the first. */
  retries: number;
  /** First delay in ms; doubles per attempt. */
  baseDelayMs: number;
  maxDelayMs?: number;
  signal?: AbortSignal | undefined;
  /** Told before each retry (for logs and tests). */
  onRetry?: (error: FerryError, attempt: number, delayMs: number) => void;
}

export interface RetryResult<T> {
  value: T;
  attempts: number;
}

export async function withRetries<T>(
  run: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<RetryResult<T>> {
  const maxDelay = options.maxDelayMs ?? 10_000;
  for (let attempt = 1; ; attempt += 1) {
    throwIfAborted(options.signal);
    try {
      return { value: await run(attempt), attempts: attempt };
    } catch (caught) {
      const error = toFerryError(caught);
      if (options.signal?.aborted)
        throw FerryError.isInstance(error, "Aborted")
          ? error
          : errors.aborted("transfer aborted", { cause: error });
      if (!error.retryable || attempt > options.retries) throw error;
      const ceiling = Math.min(maxDelay, options.baseDelayMs * 2 ** (attempt - 1));
      let delay = Math.random() * ceiling;
      if (error.retryAfter)
        delay = Math.max(delay, Math.min(maxDelay, error.retryAfter.getTime() - Date.now()));
      options.onRetry?.(error, attempt, delay);
      await sleep(delay, options.signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(errors.aborted("transfer aborted", { cause: signal.reason }));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(errors.aborted("transfer aborted", { cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

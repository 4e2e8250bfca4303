/** GitHub's primary rate limit: a request budget per token (or per address without one) per window. */
import type { GithubServerSettings, Principal } from "./context.ts";

interface Window {
  used: number;
  /** Requests seen by the secondary limit. */
  burst?: number;
  /** Epoch seconds. */
  reset: number;
}

export interface RateStatus {
  limit: number;
  used: number;
  remaining: number;
  reset: number;
}

export class RateLimiter {
  readonly #settings: GithubServerSettings;
  readonly #windows = new Map<string, Window>();

  constructor(settings: GithubServerSettings) {
    this.#settings = settings;
  }

  #key(principal: Principal): string {
    return principal.kind === "token" ? `token:${principal.token}` : `address:${principal.address}`;
  }

  #limit(principal: Principal): number {
    return principal.kind === "token"
      ? this.#settings.rateLimit.authenticated
      : this.#settings.rateLimit.anonymous;
  }

  #window(principal: Principal): Window {
    const now = Math.floor(Date.now() / 1000);
    const key = this.#key(principal);
    let window = this.#windows.get(key);
    if (!window || window.reset <= now) {
      window = { used: 0, reset: now + this.#settings.rateLimit.windowSeconds };
      this.#windows.set(key, window);
    }
    return window;
  }

  status(principal: Principal): RateStatus {
    const window = this.#window(principal);
    const limit = this.#limit(principal);
    return { limit, used: window.used, remaining: Math.max(0, limit - window.used), reset: window.reset };
  }

  /** Seconds to wait when the secondary limit refuses this request, else undefined (and the request is counted). */
  secondary(principal: Principal): number | undefined {
    const limit = this.#settings.secondaryRateLimit;
    if (!limit) return undefined;
    const window = this.#window(principal);
    window.burst = (window.burst ?? 0) + 1;
    return window.burst > limit.requests ? limit.retryAfterSeconds : undefined;
  }

  /** Count one request; `allowed` false once the budget is spent. */
  take(principal: Principal): { allowed: boolean; headers: Record<string, string> } {
    const window = this.#window(principal);
    const allowed = window.used < this.#limit(principal);
    if (allowed) window.used += 1;
    return { allowed, headers: this.peekHeaders(principal) };
  }

  peekHeaders(principal: Principal): Record<string, string> {
    const status = this.status(principal);
    return {
      "x-ratelimit-limit": String(status.limit),
      "x-ratelimit-remaining": String(status.remaining),
      "x-ratelimit-reset": String(status.reset),
      "x-ratelimit-used": String(status.used),
      "x-ratelimit-resource": "core",
    };
  }
}

/**
 * A `fetch` with the idle timeout (see idle-timeout.ts), for SDKs that take a fetch of their own
 * (octokit). Silence is timed from the request until the answer's headers, then between the body's
 * chunks; a stall aborts the request with the stall error, which fetch and the body stream report.
 */
import { stallError } from "./idle-timeout.ts";

export function idleFetch(timeoutMs: () => number, system?: string): typeof fetch {
  return async (input, init = {}) => {
    const timeout = timeoutMs();
    if (timeout <= 0) return fetch(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input));
    const controller = new AbortController();
    const caller = init.signal ?? undefined;
    const onAbort = () => controller.abort(caller?.reason);
    if (caller?.aborted) onAbort();
    caller?.addEventListener("abort", onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      clearTimeout(timer);
      caller?.removeEventListener("abort", onAbort);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () => controller.abort(stallError(url.host, timeout, system ? { system } : {})),
        timeout,
      );
      timer.unref();
    };
    arm();
    let response: Response;
    try {
      // A streamed request body re-arms the timer as fetch takes each chunk of it.
      const request: RequestInit = { ...init, signal: controller.signal };
      const body = rearmingBody(init.body, arm);
      if (body !== undefined) request.body = body;
      response = await fetch(input, request);
    } catch (error) {
      stop();
      throw error;
    }
    if (!response.body) {
      stop();
      return response;
    }
    arm();
    const watched = new Response(response.body.pipeThrough(rearming(arm, stop)), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
    Object.defineProperty(watched, "url", { value: response.url });
    return watched;
  };
}

function rearming(arm: () => void, done?: () => void): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(chunk, controller) {
      arm();
      controller.enqueue(chunk);
    },
    flush() {
      done?.();
    },
  });
}

/** A streamed request body (a stream, or an async iterable as octokit passes) that re-arms the timer per chunk taken. */
function rearmingBody(body: RequestInit["body"], arm: () => void): RequestInit["body"] | undefined {
  if (body === undefined || body === null) return body ?? undefined;
  if (body instanceof ReadableStream) return body.pipeThrough(rearming(arm));
  const iterable = body as unknown as AsyncIterable<Uint8Array>;
  if (typeof iterable[Symbol.asyncIterator] !== "function") return body;
  async function* watched() {
    for await (const chunk of iterable) {
      arm();
      yield chunk;
    }
  }
  return watched() as unknown as RequestInit["body"];
}

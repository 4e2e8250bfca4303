/**
 * Reads: a download stream per read, ranged when asked, checked end to end against the object's
 * CRC32C when whole, and watched for silence while its reader is ready for more.
 */
import type { EventEmitter } from "node:events";
import { PassThrough, type Readable } from "node:stream";
import { errors, type ReadOptions, watchReadable } from "@ferry/plugin-kit";
import type { File } from "@google-cloud/storage";
import { type ErrorContext, mapGcsError, statusOfError } from "./errors.ts";

/** Downloads that got no answer at all are asked again this many times (the client's own default). */
const UNANSWERED_READ_RETRIES = 3;

/** What a read needs from its driver. */
export interface ReadSetting {
  /** For mapGcsError: the bucket, the path, the secrets and the timeout of this read. */
  context: ErrorContext;
  /** The idle timeout in ms (0: none) and the endpoint's `host:port`, for the stall error. */
  timeoutMs(): number;
  host: string;
  /** Fails when the object does not exist (a read of nothing still needs one). */
  stat(): Promise<unknown>;
}

export async function readObject(file: File, options: ReadOptions, setting: ReadSetting): Promise<Readable> {
  const range = options.range;
  const empty = range !== undefined && ("suffix" in range ? range.suffix === 0 : range.length === 0);
  if (empty) {
    await setting.stat();
    return emptyStream();
  }
  const span =
    range === undefined
      ? {}
      : "suffix" in range
        ? { end: -range.suffix }
        : {
            start: range.offset,
            ...(range.length === undefined ? {} : { end: range.offset + range.length - 1 }),
          };
  noClientRetry(file);
  for (let attempt = 0; ; attempt += 1) {
    const source = file.createReadStream({
      ...span,
      ...(range === undefined ? { validation: "crc32c" as const } : {}),
    });
    try {
      await responded(source);
      return forward(source, options.signal, setting);
    } catch (error) {
      source.destroy();
      // 416: the offset is at or past the end, which reads nothing.
      if (statusOfError(error) === 416) return emptyStream();
      const mapped = mapGcsError(error, setting.context);
      // No answer at all (a kept-alive socket the server had closed, a reset before the headers):
      // nothing was read yet, so ask again here, as the client would have.
      const unanswered = statusOfError(error) === undefined && mapped.code === "Transient";
      if (!unanswered || attempt >= UNANSWERED_READ_RETRIES || options.signal?.aborted) throw mapped;
    }
  }
}

/**
 * The download as the caller sees it: back-pressure through `pipe`, client errors (a CRC32C
 * mismatch among them) mapped to ferry codes, and the download released when the caller destroys
 * the stream or aborts. (`pipeline` would destroy the output with the raw client error first.)
 */
function forward(source: Readable, signal: AbortSignal | undefined, setting: ReadSetting): Readable {
  const { bucket, path } = setting.context;
  const out = new PassThrough();
  source.once("error", (error) => out.destroy(mapGcsError(error, { ...setting.context, answered: true })));
  out.once("close", () => {
    if (!source.destroyed) source.destroy();
  });
  if (signal) {
    const onAbort = () =>
      out.destroy(errors.aborted(`read gs://${bucket}/${path}: aborted`, { system: "gs", path }));
    signal.addEventListener("abort", onAbort, { once: true });
    out.once("close", () => signal.removeEventListener("abort", onAbort));
  }
  // The client's own timeout does not reach its download streams: watch the bytes arriving.
  watchReadable(source, {
    host: setting.host,
    timeoutMs: () => setting.timeoutMs(),
    busy: () => true,
    system: "gs",
  });
  source.pipe(out);
  return out;
}

type RequestInterceptor = NonNullable<File["interceptors"][number]["request"]>;

/**
 * Downloads are not retried inside the client: its retry of a streamed GET that got an answer (a
 * 503, a 429) destroys the request stream while teeny-request still pipes the answer into it, which
 * throws ERR_STREAM_UNABLE_TO_PIPE where nothing can catch it and ends the process. The answer
 * surfaces as a typed error instead (Transient for a 503: ferry's transfer engine retries the file);
 * `readObject` asks again itself when there was no answer at all.
 */
function noClientRetry(file: File): void {
  // The client reads `maxRetries` off the request options; its typings do not list it.
  const request = (reqOpts: object) => ({ ...reqOpts, maxRetries: 0 });
  file.interceptors.push({ request: request as unknown as RequestInterceptor });
}

function emptyStream(): Readable {
  const stream = new PassThrough();
  stream.end();
  return stream;
}

const RESPONSE_LISTENERS = 32;

/** Start a download and wait for its status: errors (404…) surface here, not later in the stream. */
function responded(stream: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: unknown) => reject(error);
    stream.once("error", onError);
    stream.once("response", (response: { statusCode?: number; status?: number } & Partial<EventEmitter>) => {
      // The response is the HTTP body stream itself, which the client's layers pipe on three times
      // over: 11 listeners, a fixed number and no leak, but over Node's default of 10 it prints a
      // MaxListenersExceededWarning on every download of 64 KiB or more.
      response.setMaxListeners?.(RESPONSE_LISTENERS);
      const status = response.statusCode ?? response.status ?? 200;
      if (status >= 200 && status < 300) {
        stream.off("error", onError);
        resolve();
      }
      // Otherwise the client reads the error body and destroys the stream: onError rejects.
    });
    stream.read(0);
  });
}

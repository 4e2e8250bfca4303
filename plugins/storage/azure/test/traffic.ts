/** A BlobServiceClient that records (and can tamper with) every request it sends. */
import { BlobServiceClient, newPipeline, StorageSharedKeyCredential } from "@azure/storage-blob";
import type { AzuriteBackend } from "@ferry/test-harness";

export interface Exchange {
  method: string;
  url: URL;
  headers: Record<string, string>;
  bodyBytes: number;
  status: number | undefined;
}

interface RequestLike {
  method: string;
  url: string;
  body?: unknown;
  headers: { get(name: string): string | undefined; headersArray(): Array<{ name: string; value: string }> };
}

export interface RecordingOptions {
  /** Change a request body after ferry computed its Content-MD5 (simulates corruption in transit). */
  tamper?: (request: RequestLike) => void;
  maxTries?: number;
  endpoint?: string;
}

function byteLength(body: unknown): number {
  if (body instanceof Uint8Array) return body.byteLength;
  if (typeof body === "string") return Buffer.byteLength(body);
  return 0;
}

export function recordingService(
  server: AzuriteBackend,
  options: RecordingOptions = {},
): { service: BlobServiceClient; traffic: Exchange[] } {
  const traffic: Exchange[] = [];
  const pipeline = newPipeline(new StorageSharedKeyCredential(server.accountName, server.accountKey), {
    retryOptions: { maxTries: options.maxTries ?? 3, retryDelayInMs: 10, maxRetryDelayInMs: 20 },
  });
  pipeline.factories.unshift({
    create: (next) => ({
      async sendRequest(request: RequestLike & Parameters<typeof next.sendRequest>[0]) {
        const headers = Object.fromEntries(
          request.headers.headersArray().map(({ name, value }) => [name.toLowerCase(), value]),
        );
        const exchange: Exchange = {
          method: request.method,
          url: new URL(request.url),
          headers,
          bodyBytes: byteLength(request.body),
          status: undefined,
        };
        traffic.push(exchange);
        options.tamper?.(request);
        const response = await next.sendRequest(request);
        exchange.status = response.status;
        return response;
      },
    }),
  });
  return { service: new BlobServiceClient(options.endpoint ?? server.blobEndpoint, pipeline), traffic };
}

/** `comp=` of a request, the Blob API's operation selector ("block", "blocklist", "batch", ...). */
export const comp = (exchange: Exchange) => exchange.url.searchParams.get("comp") ?? "";

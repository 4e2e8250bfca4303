/** Records every request an S3Client sends: command, headers, body bytes each way, status. */
import { S3Client } from "@aws-sdk/client-s3";
import type { S3Backend } from "@ferry/test-harness";

export interface Exchange {
  command: string;
  headers: Record<string, string>;
  requestBytes: number;
  responseBytes: number;
  status: number | undefined;
}

export function recordingClient(
  server: S3Backend,
  maxAttempts = 3,
): { client: S3Client; traffic: Exchange[] } {
  const client = new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    credentials: { ...server.credentials },
    forcePathStyle: true,
    maxAttempts,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  return { client, traffic: recordTraffic(client) };
}

/** Start recording what `client` sends (headers as signed and sent). */
export function recordTraffic(client: S3Client): Exchange[] {
  const traffic: Exchange[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { method: string; headers: Record<string, string> };
      const exchange: Exchange = {
        command: String(context.commandName).replace(/Command$/, ""),
        headers: { ...request.headers },
        requestBytes: Number(request.headers["content-length"] ?? 0),
        responseBytes: 0,
        status: undefined,
      };
      traffic.push(exchange);
      try {
        const result = await next(args);
        const response = result.response as { statusCode?: number; headers?: Record<string, string> };
        exchange.status = response.statusCode;
        // A HEAD response's Content-Length describes the object; no body comes back.
        exchange.responseBytes =
          request.method === "HEAD" ? 0 : Number(response.headers?.["content-length"] ?? 0);
        return result;
      } catch (error) {
        exchange.status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        throw error;
      }
    },
    { step: "finalizeRequest", name: "ferryTestTraffic", priority: "low" },
  );
  return traffic;
}

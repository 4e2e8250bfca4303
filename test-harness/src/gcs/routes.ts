/**
 * URL routing for the JSON API. Every JSON route answers both with and without the `/storage/v1`
 * prefix (the client drops it when STORAGE_EMULATOR_HOST is set); uploads live under
 * `/upload/storage/v1`, and `/download/storage/v1` serves the objects' mediaLink.
 */
import type { GcsContext, GcsRequest } from "./context.ts";
import { preconditionsFrom } from "./context.ts";
import { gcsErrors } from "./errors.ts";
import { decodeSegment, intParam, readJsonBody, sendEmpty, sendJson } from "./http.ts";
import { decodePageToken, encodePageToken, listObjects, MAX_LIST_RESULTS } from "./listing.ts";
import { sendMedia } from "./media.ts";
import { bucketResource, objectResource } from "./resource.ts";
import { handleCompose, handleCopyTo, handleMoveTo, handleRewrite } from "./rewrite.ts";
import { checkPreconditions } from "./store.ts";
import { handleInsertUpload, handleResumableCancel, handleResumablePut } from "./uploads.ts";

export async function route(ctx: GcsContext, request: GcsRequest, pathname: string): Promise<void> {
  const raw = pathname.split("/").slice(1);
  const { method } = request;
  if (raw[0] === "upload" && raw[1] === "storage" && raw[2] === "v1") {
    const [b, bucket, o, ...rest] = raw.slice(3);
    if (b !== "b" || bucket === undefined || o !== "o" || rest.length > 0)
      throw gcsErrors.notFound(`Not Found: ${pathname}`);
    if (method === "POST") return handleInsertUpload(ctx, request, bucket);
    if (method === "PUT") return handleResumablePut(ctx, request);
    if (method === "DELETE") return handleResumableCancel(ctx, request);
    throw gcsErrors.methodNotAllowed();
  }
  const segments =
    raw[0] === "download" && raw[1] === "storage" && raw[2] === "v1"
      ? raw.slice(3)
      : raw[0] === "storage" && raw[1] === "v1"
        ? raw.slice(2)
        : raw;
  const mediaOnly = raw[0] === "download";
  if (segments[0] !== "b") throw gcsErrors.notFound(`Not Found: ${pathname}`);
  if (segments.length === 1) return bucketCollection(ctx, request);
  const bucket = segments[1]!;
  if (segments.length === 2) return bucketItem(ctx, request, bucket);
  if (segments[2] !== "o") throw gcsErrors.notFound(`Not Found: ${pathname}`);
  if (segments.length === 3) {
    if (method === "GET") return listObjectsRoute(ctx, request, bucket);
    throw gcsErrors.methodNotAllowed();
  }
  const name = decodeSegment(segments[3]!);
  const tail = segments.slice(4);
  if (tail.length === 0) return objectItem(ctx, request, bucket, name, mediaOnly);
  if (method !== "POST") throw gcsErrors.methodNotAllowed();
  if (
    (tail[0] === "rewriteTo" || tail[0] === "copyTo") &&
    tail[1] === "b" &&
    tail[3] === "o" &&
    tail.length === 5
  ) {
    const handler = tail[0] === "rewriteTo" ? handleRewrite : handleCopyTo;
    return handler(ctx, request, {
      sourceBucket: bucket,
      sourceName: name,
      destinationBucket: tail[2]!,
      destinationName: decodeSegment(tail[4]!),
    });
  }
  if (tail[0] === "compose" && tail.length === 1) return handleCompose(ctx, request, bucket, name);
  if (tail[0] === "moveTo" && tail[1] === "o" && tail.length === 3)
    return handleMoveTo(ctx, request, bucket, name, decodeSegment(tail[2]!));
  throw gcsErrors.notFound(`Not Found: ${pathname}`);
}

async function bucketCollection(ctx: GcsContext, request: GcsRequest): Promise<void> {
  const { store, settings } = ctx;
  if (request.method === "POST") {
    const body = await readJsonBody(request.body);
    if (typeof body.name !== "string") throw gcsErrors.required("Required field: name.");
    const bucket = store.createBucket(body.name, {
      ...(typeof body.location === "string" ? { location: body.location.toUpperCase() } : {}),
      ...(typeof body.storageClass === "string" ? { storageClass: body.storageClass } : {}),
      ...(typeof body.labels === "object" && body.labels !== null
        ? { labels: body.labels as Record<string, string> }
        : {}),
    });
    sendJson(request.res, 200, bucketResource(bucket, settings.projectNumber));
    return;
  }
  if (request.method !== "GET") throw gcsErrors.methodNotAllowed();
  if (!request.query.get("project")) throw gcsErrors.required("Required parameter: project");
  const prefix = request.query.get("prefix") ?? "";
  const max = Math.min(intParam(request.query, "maxResults") ?? MAX_LIST_RESULTS, MAX_LIST_RESULTS);
  const token = request.query.get("pageToken");
  const after = token === undefined ? undefined : decodePageToken(token);
  const matching = store
    .buckets()
    .filter((bucket) => bucket.name.startsWith(prefix) && (after === undefined || bucket.name > after));
  const page = matching.slice(0, Math.max(max, 1));
  sendJson(request.res, 200, {
    kind: "storage#buckets",
    ...(page.length > 0
      ? { items: page.map((bucket) => bucketResource(bucket, settings.projectNumber)) }
      : {}),
    ...(matching.length > page.length ? { nextPageToken: encodePageToken(page.at(-1)!.name) } : {}),
  });
}

async function bucketItem(ctx: GcsContext, request: GcsRequest, name: string): Promise<void> {
  const { store, settings } = ctx;
  switch (request.method) {
    case "GET":
      sendJson(request.res, 200, bucketResource(store.bucket(name), settings.projectNumber));
      return;
    case "DELETE":
      await store.deleteBucket(name, preconditionsFrom(request.query));
      sendEmpty(request.res, 204);
      return;
    case "PATCH": {
      const body = await readJsonBody(request.body);
      const labels =
        typeof body.labels === "object" && body.labels !== null
          ? (body.labels as Record<string, string | null>)
          : undefined;
      sendJson(
        request.res,
        200,
        bucketResource(store.patchBucket(name, labels ? { labels } : {}), settings.projectNumber),
      );
      return;
    }
    default:
      throw gcsErrors.methodNotAllowed();
  }
}

async function objectItem(
  ctx: GcsContext,
  request: GcsRequest,
  bucket: string,
  name: string,
  mediaOnly: boolean,
): Promise<void> {
  const { store } = ctx;
  const generation = intParam(request.query, "generation");
  const conditions = preconditionsFrom(request.query);
  switch (request.method) {
    case "GET":
    case "HEAD": {
      const lookup = () => {
        const object = store.object(bucket, name, generation);
        readPreconditions(object, conditions);
        return object;
      };
      if (mediaOnly || request.query.get("alt") === "media")
        return sendMedia(request.res, lookup, request.header("range"), request.method);
      sendJson(request.res, 200, objectResource(lookup(), ctx.baseUrl));
      return;
    }
    case "DELETE":
      await store.deleteObject(bucket, name, conditions, generation);
      sendEmpty(request.res, 204);
      return;
    case "PATCH": {
      const patch = await readJsonBody(request.body);
      sendJson(
        request.res,
        200,
        objectResource(store.patchObject(bucket, name, patch, conditions, generation), ctx.baseUrl),
      );
      return;
    }
    default:
      throw gcsErrors.methodNotAllowed();
  }
}

/** On reads, a failed `…NotMatch` condition is 304 Not Modified, a failed `…Match` is 412. */
function readPreconditions(
  object: Parameters<typeof checkPreconditions>[0],
  conditions: ReturnType<typeof preconditionsFrom>,
): void {
  checkPreconditions(object, {
    ifGenerationMatch: conditions.ifGenerationMatch,
    ifMetagenerationMatch: conditions.ifMetagenerationMatch,
  });
  try {
    checkPreconditions(object, {
      ifGenerationNotMatch: conditions.ifGenerationNotMatch,
      ifMetagenerationNotMatch: conditions.ifMetagenerationNotMatch,
    });
  } catch {
    throw gcsErrors.notModified();
  }
}

function listObjectsRoute(ctx: GcsContext, request: GcsRequest, bucket: string): void {
  const { query } = request;
  // Without versioning there are no noncurrent generations, so `versions=true` lists the same objects.
  const names = ctx.store.sortedNames(bucket);
  const page = listObjects(names, (name) => ctx.store.object(bucket, name), {
    prefix: query.get("prefix"),
    delimiter: query.get("delimiter"),
    startOffset: query.get("startOffset"),
    endOffset: query.get("endOffset"),
    includeTrailingDelimiter: query.get("includeTrailingDelimiter") === "true",
    maxResults: intParam(query, "maxResults"),
    pageToken: query.get("pageToken"),
  });
  sendJson(request.res, 200, {
    kind: "storage#objects",
    ...(page.prefixes.length > 0 ? { prefixes: page.prefixes } : {}),
    ...(page.items.length > 0
      ? { items: page.items.map((object) => objectResource(object, ctx.baseUrl)) }
      : {}),
    ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
  });
}

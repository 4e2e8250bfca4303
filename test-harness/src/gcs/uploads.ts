/**
 * objects.insert on `/upload/storage/v1/b/{bucket}/o`: simple (`uploadType=media`), multipart
 * (`uploadType=multipart`) and resumable sessions (`uploadType=resumable`). Bytes stream to a
 * staged file; the object appears only when the upload completes, its hashes check out and the
 * preconditions still hold.
 */
import { randomBytes } from "node:crypto";
import { type GcsContext, type GcsRequest, preconditionsFrom } from "./context.ts";
import { GcsError, gcsErrors } from "./errors.ts";
import { validateObjectName, type WritableFields, writableFields } from "./fields.ts";
import { drain, readJsonBody, sendEmpty, sendJson } from "./http.ts";
import { boundaryOf, readMultipartRelated } from "./multipart.ts";
import { objectResource } from "./resource.ts";
import { type ExpectedHashes, expectedFromResource, parseGoogHash, type StagedFile } from "./staged-file.ts";
import { checkPreconditions, type Preconditions, type StoredObject } from "./store.ts";

interface UploadSession {
  id: string;
  bucket: string;
  name: string;
  fields: WritableFields;
  expected: ExpectedHashes;
  conditions: Preconditions;
  staged: StagedFile;
  /** Set once the object is committed; later PUTs and status queries answer with it. */
  result?: StoredObject;
}

/** Resumable sessions of one server. */
export class UploadSessions {
  readonly #sessions = new Map<string, UploadSession>();

  get(id: string | undefined): UploadSession {
    const session = id === undefined ? undefined : this.#sessions.get(id);
    if (!session) throw gcsErrors.unknownSession();
    return session;
  }

  add(session: UploadSession): void {
    this.#sessions.set(session.id, session);
  }

  async drop(session: UploadSession): Promise<void> {
    this.#sessions.delete(session.id);
    if (!session.result) await session.staged.discard();
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#sessions.values()].map((session) => this.drop(session)));
  }
}

export async function handleInsertUpload(
  ctx: GcsContext,
  request: GcsRequest,
  bucketName: string,
): Promise<void> {
  ctx.store.bucket(bucketName);
  const uploadType = request.query.get("uploadType");
  if (uploadType === "media") return simpleUpload(ctx, request, bucketName);
  if (uploadType === "multipart") return multipartUpload(ctx, request, bucketName);
  if (uploadType === "resumable") return initiateResumable(ctx, request, bucketName);
  throw gcsErrors.invalid(`Unsupported uploadType: ${uploadType ?? "(missing)"}`);
}

async function simpleUpload(ctx: GcsContext, request: GcsRequest, bucketName: string): Promise<void> {
  const name = request.query.get("name");
  if (name === undefined) throw gcsErrors.required("Required parameter: name");
  validateObjectName(name);
  const fields: WritableFields = {
    contentType: request.header("content-type") ?? "application/octet-stream",
  };
  if (request.query.get("contentEncoding")) fields.contentEncoding = request.query.get("contentEncoding");
  const data = await stageBody(ctx, request.body, parseGoogHash(request.header("x-goog-hash")));
  const stored = await ctx.store.commit(bucketName, name, data, fields, preconditionsFrom(request.query));
  sendJson(request.res, 200, objectResource(stored, ctx.baseUrl));
}

async function multipartUpload(ctx: GcsContext, request: GcsRequest, bucketName: string): Promise<void> {
  const boundary = boundaryOf(request.header("content-type"));
  const staged = await ctx.store.stage();
  try {
    const { resource, mediaContentType } = await readMultipartRelated(request.body, boundary, (bytes) =>
      staged.write(bytes),
    );
    const name = request.query.get("name") ?? (typeof resource.name === "string" ? resource.name : undefined);
    if (name === undefined) throw gcsErrors.required("Required parameter: name");
    const fields = writableFields(resource);
    fields.contentType ??= mediaContentType ?? "application/octet-stream";
    const data = await staged.finish(
      expectedFromResource(resource, parseGoogHash(request.header("x-goog-hash"))),
    );
    const stored = await ctx.store.commit(bucketName, name, data, fields, preconditionsFrom(request.query));
    sendJson(request.res, 200, objectResource(stored, ctx.baseUrl));
  } catch (error) {
    await staged.discard();
    throw error;
  }
}

async function stageBody(ctx: GcsContext, body: AsyncIterable<Buffer>, expected: ExpectedHashes) {
  const staged = await ctx.store.stage();
  try {
    for await (const chunk of body) await staged.write(chunk);
    return await staged.finish(expected);
  } catch (error) {
    await staged.discard();
    throw error;
  }
}

async function initiateResumable(ctx: GcsContext, request: GcsRequest, bucketName: string): Promise<void> {
  const resource = await readJsonBody(request.body);
  const name = request.query.get("name") ?? (typeof resource.name === "string" ? resource.name : undefined);
  if (name === undefined) throw gcsErrors.required("Required parameter: name");
  validateObjectName(name);
  const conditions = preconditionsFrom(request.query);
  // Checked now (so a doomed upload fails before any bytes move) and again when it completes.
  checkPreconditions(ctx.store.peek(bucketName, name), conditions);
  const fields = writableFields(resource);
  const uploadType = request.header("x-upload-content-type");
  if (uploadType) fields.contentType = uploadType;
  const id = randomBytes(16).toString("hex");
  ctx.sessions.add({
    id,
    bucket: bucketName,
    name,
    fields,
    expected: expectedFromResource(resource),
    conditions,
    staged: await ctx.store.stage(),
  });
  // On the host the client reached (as GCS does), so a client that goes through a proxy stays behind it.
  const host = request.header("host");
  const base = host ? `http://${host}` : ctx.baseUrl;
  const location = `${base}/upload/storage/v1/b/${bucketName}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`;
  sendEmpty(request.res, 200, { location });
}

/** A parsed `Content-Range` of a resumable PUT. */
interface ContentRange {
  /** Undefined for a status query (`bytes *\/…`). */
  first?: number;
  /** Undefined when open-ended (`bytes A-*\/…`: this body is the rest of the object). */
  last?: number;
  /** Undefined when the total is not known yet (`…/*`). */
  total?: number;
}

export function parseContentRange(header: string | undefined): ContentRange {
  if (header === undefined) return { first: 0 };
  const match = /^bytes\s+(?:\*|(\d+)-(\d+|\*|-1))\/(\d+|\*)$/.exec(header.trim());
  if (!match) throw gcsErrors.invalid(`Invalid Content-Range: ${header}`);
  const [, first, last, total] = match;
  const range: ContentRange = {};
  if (first !== undefined) range.first = Number(first);
  if (last !== undefined && last !== "*") range.last = Number(last);
  if (total !== "*") range.total = Number(total);
  if (range.last !== undefined && range.first !== undefined && range.last < range.first - 1)
    throw gcsErrors.invalid(`Invalid Content-Range: ${header}`);
  return range;
}

/** 308 Resume Incomplete, with `Range` only when bytes are persisted. Never a `Location` (node-fetch would follow it). */
function resumeIncomplete(request: GcsRequest, persisted: number): void {
  sendEmpty(request.res, 308, persisted > 0 ? { range: `bytes=0-${persisted - 1}` } : {});
}

export async function handleResumablePut(ctx: GcsContext, request: GcsRequest): Promise<void> {
  const session = ctx.sessions.get(request.query.get("upload_id"));
  if (session.result) {
    await drain(request.body);
    sendJson(request.res, 200, objectResource(session.result, ctx.baseUrl));
    return;
  }
  const range = parseContentRange(request.header("content-range"));
  const staged = session.staged;
  if (range.first === undefined) {
    await drain(request.body);
    if (range.total !== undefined && range.total === staged.size) return finalize(ctx, request, session);
    if (range.total !== undefined && range.total < staged.size)
      throw await fail(
        ctx,
        session,
        gcsErrors.invalid("Content-Range total is less than the bytes already received."),
      );
    return resumeIncomplete(request, staged.size);
  }
  if (range.first > staged.size) {
    // A gap: tell the client what we have so it resends from there.
    await drain(request.body);
    return resumeIncomplete(request, staged.size);
  }
  // Bytes before the persisted length were received earlier (a retried chunk): skip them.
  let skip = staged.size - range.first;
  for await (const chunk of request.body) {
    if (skip >= chunk.length) {
      skip -= chunk.length;
      continue;
    }
    await staged.write(skip > 0 ? chunk.subarray(skip) : chunk);
    skip = 0;
  }
  if (range.total !== undefined) {
    if (staged.size === range.total) return finalize(ctx, request, session);
    if (staged.size > range.total)
      throw await fail(ctx, session, gcsErrors.invalid("More bytes were sent than the Content-Range total."));
    return resumeIncomplete(request, staged.size);
  }
  if (range.last === undefined) return finalize(ctx, request, session);
  return resumeIncomplete(request, staged.size);
}

async function finalize(ctx: GcsContext, request: GcsRequest, session: UploadSession): Promise<void> {
  let stored: StoredObject;
  try {
    const expected = { ...session.expected, ...parseGoogHash(request.header("x-goog-hash")) };
    const data = await session.staged.finish(expected);
    stored = await ctx.store.commit(session.bucket, session.name, data, session.fields, session.conditions);
  } catch (error) {
    throw await fail(ctx, session, error);
  }
  session.result = stored;
  sendJson(request.res, 200, objectResource(stored, ctx.baseUrl));
}

/** A session that cannot complete is gone, its bytes with it. */
async function fail(ctx: GcsContext, session: UploadSession, error: unknown): Promise<unknown> {
  await ctx.sessions.drop(session);
  return error;
}

/** Cancelling a session answers 499, as GCS does. */
export async function handleResumableCancel(ctx: GcsContext, request: GcsRequest): Promise<void> {
  const session = ctx.sessions.get(request.query.get("upload_id"));
  await ctx.sessions.drop(session);
  sendJson(request.res, 499, new GcsError(499, "clientClosedRequest", "Upload cancelled.").body());
}

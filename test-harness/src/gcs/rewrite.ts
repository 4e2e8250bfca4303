/**
 * Server-side copies: objects.rewrite (with rewriteToken continuation), the older objects.copy,
 * objects.compose and objects.move. No bytes pass through the client for any of them.
 */
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { type GcsContext, type GcsRequest, preconditionsFrom } from "./context.ts";
import { gcsErrors } from "./errors.ts";
import { fieldsOf, validateObjectName, type WritableFields, writableFields } from "./fields.ts";
import { intParam, readJsonBody, sendJson } from "./http.ts";
import { objectResource } from "./resource.ts";
import type { StagedFile } from "./staged-file.ts";
import { checkPreconditions, type Preconditions, type StoredObject } from "./store.ts";

interface RewriteJob {
  token: string;
  source: StoredObject;
  destinationBucket: string;
  destinationName: string;
  fields: WritableFields;
  conditions: Preconditions;
  bytesPerCall: number;
  staged: StagedFile;
  copied: number;
}

/** Rewrites in progress, by token. */
export class RewriteJobs {
  readonly #jobs = new Map<string, RewriteJob>();

  get(token: string): RewriteJob {
    const job = this.#jobs.get(token);
    if (!job) throw gcsErrors.invalid("Invalid rewrite token.");
    return job;
  }

  add(job: RewriteJob): void {
    this.#jobs.set(job.token, job);
  }

  async drop(job: RewriteJob, discard: boolean): Promise<void> {
    this.#jobs.delete(job.token);
    if (discard) await job.staged.discard();
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#jobs.values()].map((job) => this.drop(job, true)));
  }
}

/** Copy bytes [start, end) of an object's file into a staged file. */
async function copyRange(
  source: StoredObject,
  target: StagedFile,
  start: number,
  end: number,
): Promise<void> {
  if (end <= start) return;
  try {
    for await (const chunk of createReadStream(source.file, { start, end: end - 1 }))
      await target.write(chunk as Buffer);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT")
      throw gcsErrors.noSuchObject(source.bucket, source.name);
    throw error;
  }
}

/** A resource body carries destination fields; `{}` (or only the client's `token` artefact) keeps the source's. */
function destinationFields(body: Record<string, unknown>, source: StoredObject): WritableFields {
  const fields = writableFields(body);
  return Object.keys(fields).length > 0
    ? { ...fields, contentType: fields.contentType ?? source.contentType }
    : fieldsOf(source);
}

function perCallLimit(ctx: GcsContext, request: GcsRequest, body: Record<string, unknown>): number {
  // The API takes it in the query; the Node client puts unknown copy options in the body instead.
  const fromQuery = intParam(request.query, "maxBytesRewrittenPerCall");
  const fromBody =
    body.maxBytesRewrittenPerCall === undefined ? undefined : Number(body.maxBytesRewrittenPerCall);
  const requested = fromQuery ?? fromBody;
  if (requested !== undefined && (!Number.isSafeInteger(requested) || requested <= 0))
    throw gcsErrors.invalid("Invalid value for maxBytesRewrittenPerCall.");
  return Math.min(requested ?? Number.POSITIVE_INFINITY, ctx.settings.rewriteBytesPerCall);
}

/** Source and destination of a copy, from the URL. */
export interface CopyRoute {
  sourceBucket: string;
  sourceName: string;
  destinationBucket: string;
  destinationName: string;
}

/** The live source, after its own (`ifSource…`) and the destination's (`if…`) preconditions are checked. */
function openCopy(
  ctx: GcsContext,
  request: GcsRequest,
  route: CopyRoute,
): { source: StoredObject; conditions: Preconditions } {
  const source = ctx.store.object(
    route.sourceBucket,
    route.sourceName,
    intParam(request.query, "sourceGeneration"),
  );
  checkPreconditions(source, preconditionsFrom(request.query, "ifSource"));
  validateObjectName(route.destinationName);
  const conditions = preconditionsFrom(request.query);
  checkPreconditions(ctx.store.peek(route.destinationBucket, route.destinationName), conditions);
  return { source, conditions };
}

export async function handleRewrite(ctx: GcsContext, request: GcsRequest, route: CopyRoute): Promise<void> {
  const { sourceBucket, sourceName, destinationBucket, destinationName } = route;
  const body = await readJsonBody(request.body);
  const token = request.query.get("rewriteToken");
  let job: RewriteJob;
  if (token !== undefined) {
    job = ctx.rewrites.get(token);
    if (
      job.source.bucket !== sourceBucket ||
      job.source.name !== sourceName ||
      job.destinationBucket !== destinationBucket ||
      job.destinationName !== destinationName
    ) {
      throw gcsErrors.invalid("The rewrite token does not belong to this source and destination.");
    }
  } else {
    const { source, conditions } = openCopy(ctx, request, route);
    job = {
      token: randomBytes(24).toString("base64url"),
      source,
      destinationBucket,
      destinationName,
      fields: destinationFields(body, source),
      conditions,
      bytesPerCall: perCallLimit(ctx, request, body),
      staged: await ctx.store.stage(),
      copied: 0,
    };
    ctx.rewrites.add(job);
  }
  const size = job.source.size;
  try {
    const end = Math.min(size, job.copied + job.bytesPerCall);
    await copyRange(job.source, job.staged, job.copied, end);
    job.copied = end;
    if (job.copied < size) {
      sendJson(request.res, 200, {
        kind: "storage#rewriteResponse",
        totalBytesRewritten: String(job.copied),
        objectSize: String(size),
        done: false,
        rewriteToken: job.token,
      });
      return;
    }
    const data = await job.staged.finish(
      { md5Hash: job.source.md5Hash, crc32c: job.source.crc32c },
      { md5: job.source.md5Hash !== undefined },
    );
    await ctx.rewrites.drop(job, false);
    const stored = await ctx.store.commit(
      job.destinationBucket,
      job.destinationName,
      { ...data, componentCount: job.source.componentCount },
      job.fields,
      job.conditions,
    );
    sendJson(request.res, 200, {
      kind: "storage#rewriteResponse",
      totalBytesRewritten: String(size),
      objectSize: String(size),
      done: true,
      resource: objectResource(stored, ctx.baseUrl),
    });
  } catch (error) {
    await ctx.rewrites.drop(job, true);
    throw error;
  }
}

/** objects.copy: the older one-call copy that answers with the destination object. */
export async function handleCopyTo(ctx: GcsContext, request: GcsRequest, route: CopyRoute): Promise<void> {
  const body = await readJsonBody(request.body);
  const { source, conditions } = openCopy(ctx, request, route);
  const staged = await ctx.store.stage();
  try {
    await copyRange(source, staged, 0, source.size);
    const data = await staged.finish(
      { md5Hash: source.md5Hash, crc32c: source.crc32c },
      { md5: source.md5Hash !== undefined },
    );
    const stored = await ctx.store.commit(
      route.destinationBucket,
      route.destinationName,
      { ...data, componentCount: source.componentCount },
      destinationFields(body, source),
      conditions,
    );
    sendJson(request.res, 200, objectResource(stored, ctx.baseUrl));
  } catch (error) {
    await staged.discard();
    throw error;
  }
}

const MAX_COMPOSE_SOURCES = 32;

export async function handleCompose(
  ctx: GcsContext,
  request: GcsRequest,
  bucketName: string,
  destinationName: string,
): Promise<void> {
  const body = await readJsonBody(request.body);
  const list = body.sourceObjects;
  if (!Array.isArray(list) || list.length === 0) throw gcsErrors.required("Required field: sourceObjects.");
  if (list.length > MAX_COMPOSE_SOURCES)
    throw gcsErrors.invalid(
      `The number of source components provided (${list.length}) exceeds the maximum (${MAX_COMPOSE_SOURCES}).`,
    );
  ctx.store.bucket(bucketName);
  const sources = list.map((item: unknown) => {
    const entry = (item ?? {}) as {
      name?: unknown;
      generation?: unknown;
      objectPreconditions?: { ifGenerationMatch?: unknown };
    };
    if (typeof entry.name !== "string") throw gcsErrors.required("Required field: sourceObjects[].name.");
    const generation = entry.generation === undefined ? undefined : Number(entry.generation);
    const source = ctx.store.object(bucketName, entry.name, generation);
    const match = entry.objectPreconditions?.ifGenerationMatch;
    if (match !== undefined && Number(match) !== source.generation) throw gcsErrors.conditionNotMet();
    return source;
  });
  const conditions = preconditionsFrom(request.query);
  checkPreconditions(ctx.store.peek(bucketName, destinationName), conditions);
  const destination = (
    typeof body.destination === "object" && body.destination !== null ? body.destination : {}
  ) as Record<string, unknown>;
  const staged = await ctx.store.stage();
  try {
    for (const source of sources) await copyRange(source, staged, 0, source.size);
    // Composite objects carry CRC32C and a component count but no MD5, as on GCS.
    const data = await staged.finish({}, { md5: false });
    const componentCount = sources.reduce((sum, source) => sum + (source.componentCount ?? 1), 0);
    const stored = await ctx.store.commit(
      bucketName,
      destinationName,
      { ...data, componentCount },
      writableFields(destination),
      conditions,
    );
    sendJson(request.res, 200, objectResource(stored, ctx.baseUrl));
  } catch (error) {
    await staged.discard();
    throw error;
  }
}

export async function handleMoveTo(
  ctx: GcsContext,
  request: GcsRequest,
  bucketName: string,
  from: string,
  to: string,
): Promise<void> {
  await readJsonBody(request.body);
  const moved = await ctx.store.moveObject(
    bucketName,
    from,
    to,
    preconditionsFrom(request.query, "ifSource"),
    preconditionsFrom(request.query),
  );
  sendJson(request.res, 200, objectResource(moved, ctx.baseUrl));
}

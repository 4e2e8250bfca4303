/**
 * Buckets and objects of the GCS server. Object bytes live in files under one temporary directory
 * (never in memory), one file per generation; the records that describe them are in memory.
 * Every state change happens synchronously after the bytes are on disk, so a precondition check
 * and the change it guards cannot interleave with another request.
 */
import { rm, unlink } from "node:fs/promises";
import { gcsErrors } from "./errors.ts";
import { cleanFields, PATCHABLE, validateObjectName, type WritableFields } from "./fields.ts";
import { StagedFile, type WrittenData } from "./staged-file.ts";

export interface StoredObject extends WritableFields {
  bucket: string;
  name: string;
  generation: number;
  metageneration: number;
  size: number;
  /** Base64 MD5; absent on composite objects, as on GCS. */
  md5Hash?: string | undefined;
  /** Base64 big-endian CRC32C. */
  crc32c: string;
  componentCount?: number | undefined;
  timeCreated: Date;
  updated: Date;
  /** Where the bytes are. */
  file: string;
}

export interface StoredBucket {
  name: string;
  metageneration: number;
  timeCreated: Date;
  updated: Date;
  location: string;
  storageClass: string;
  labels: Record<string, string>;
  objects: Map<string, StoredObject>;
  /** Object names in UTF-8 byte order; rebuilt lazily after a change. */
  sortedNames: string[] | undefined;
}

export interface Preconditions {
  ifGenerationMatch?: number | undefined;
  ifGenerationNotMatch?: number | undefined;
  ifMetagenerationMatch?: number | undefined;
  ifMetagenerationNotMatch?: number | undefined;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;

/** UTF-8 byte order, which is code point order (plain `<` on JS strings compares UTF-16 units). */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

export function checkPreconditions(live: StoredObject | undefined, conditions: Preconditions): void {
  const { ifGenerationMatch, ifGenerationNotMatch, ifMetagenerationMatch, ifMetagenerationNotMatch } =
    conditions;
  const generation = live?.generation ?? 0;
  if (ifGenerationMatch !== undefined && ifGenerationMatch !== generation) throw gcsErrors.conditionNotMet();
  if (ifGenerationNotMatch !== undefined && ifGenerationNotMatch === generation)
    throw gcsErrors.conditionNotMet();
  if (ifMetagenerationMatch !== undefined && ifMetagenerationMatch !== live?.metageneration)
    throw gcsErrors.conditionNotMet();
  if (
    ifMetagenerationNotMatch !== undefined &&
    live !== undefined &&
    ifMetagenerationNotMatch === live.metageneration
  ) {
    throw gcsErrors.conditionNotMet();
  }
}

export class GcsStore {
  readonly dataDir: string;
  readonly #buckets = new Map<string, StoredBucket>();
  #lastGeneration = 0;

  constructor(dataDir: string) {
    this.dataDir = dataDir;
  }

  /** Generations are microsecond timestamps like GCS's, strictly increasing, and below 2^53. */
  #nextGeneration(): number {
    this.#lastGeneration = Math.max(Date.now() * 1000, this.#lastGeneration + 1);
    return this.#lastGeneration;
  }

  createBucket(
    name: string,
    fields: { location?: string; storageClass?: string; labels?: Record<string, string> } = {},
  ): StoredBucket {
    if (!BUCKET_NAME.test(name) || name.includes(".."))
      throw gcsErrors.invalid(`Invalid bucket name: '${name}'`);
    if (this.#buckets.has(name)) throw gcsErrors.bucketExists();
    const now = new Date();
    const bucket: StoredBucket = {
      name,
      metageneration: 1,
      timeCreated: now,
      updated: now,
      location: fields.location ?? "US",
      storageClass: fields.storageClass ?? "STANDARD",
      labels: fields.labels ?? {},
      objects: new Map(),
      sortedNames: undefined,
    };
    this.#buckets.set(name, bucket);
    return bucket;
  }

  bucket(name: string): StoredBucket {
    const bucket = this.#buckets.get(name);
    if (!bucket) throw gcsErrors.noSuchBucket();
    return bucket;
  }

  buckets(): StoredBucket[] {
    return [...this.#buckets.values()].sort((a, b) => compareNames(a.name, b.name));
  }

  async deleteBucket(
    name: string,
    conditions: Pick<Preconditions, "ifMetagenerationMatch" | "ifMetagenerationNotMatch"> = {},
  ): Promise<void> {
    const bucket = this.bucket(name);
    if (
      conditions.ifMetagenerationMatch !== undefined &&
      conditions.ifMetagenerationMatch !== bucket.metageneration
    )
      throw gcsErrors.conditionNotMet();
    if (
      conditions.ifMetagenerationNotMatch !== undefined &&
      conditions.ifMetagenerationNotMatch === bucket.metageneration
    )
      throw gcsErrors.conditionNotMet();
    if (bucket.objects.size > 0) throw gcsErrors.bucketNotEmpty();
    this.#buckets.delete(name);
  }

  patchBucket(name: string, patch: { labels?: Record<string, string | null> }): StoredBucket {
    const bucket = this.bucket(name);
    if (patch.labels) {
      for (const [key, value] of Object.entries(patch.labels)) {
        if (value === null) delete bucket.labels[key];
        else bucket.labels[key] = value;
      }
    }
    bucket.metageneration += 1;
    bucket.updated = new Date();
    return bucket;
  }

  /** The live object (or the given generation, which must be the live one: no versioning). */
  object(bucketName: string, name: string, generation?: number): StoredObject {
    const found = this.bucket(bucketName).objects.get(name);
    if (!found || (generation !== undefined && found.generation !== generation))
      throw gcsErrors.noSuchObject(bucketName, name);
    return found;
  }

  peek(bucketName: string, name: string): StoredObject | undefined {
    return this.bucket(bucketName).objects.get(name);
  }

  stage(): Promise<StagedFile> {
    return StagedFile.create(this.dataDir);
  }

  /**
   * Make written bytes the live object, if the preconditions hold at this instant. On failure the
   * file is removed, so a rejected write leaves nothing behind.
   */
  async commit(
    bucketName: string,
    name: string,
    data: WrittenData,
    fields: WritableFields,
    conditions: Preconditions,
  ): Promise<StoredObject> {
    let bucket: StoredBucket;
    let previous: StoredObject | undefined;
    try {
      validateObjectName(name);
      bucket = this.bucket(bucketName);
      previous = bucket.objects.get(name);
      checkPreconditions(previous, conditions);
    } catch (error) {
      await unlink(data.file).catch(() => {});
      throw error;
    }
    const now = new Date();
    const stored: StoredObject = {
      ...cleanFields(fields),
      contentType: fields.contentType ?? "application/octet-stream",
      storageClass: fields.storageClass ?? bucket.storageClass,
      bucket: bucketName,
      name,
      generation: this.#nextGeneration(),
      metageneration: 1,
      size: data.size,
      md5Hash: data.md5Hash,
      crc32c: data.crc32c,
      componentCount: data.componentCount,
      timeCreated: now,
      updated: now,
      file: data.file,
    };
    if (!previous) bucket.sortedNames = undefined;
    bucket.objects.set(name, stored);
    if (previous) await unlink(previous.file).catch(() => {});
    return stored;
  }

  async deleteObject(
    bucketName: string,
    name: string,
    conditions: Preconditions,
    generation?: number,
  ): Promise<void> {
    const bucket = this.bucket(bucketName);
    const live = this.object(bucketName, name, generation);
    checkPreconditions(live, conditions);
    bucket.objects.delete(name);
    bucket.sortedNames = undefined;
    await unlink(live.file).catch(() => {});
  }

  /**
   * objects.move: atomic within one bucket. The bytes stay in place; the destination gets a new
   * generation and the source disappears in the same step.
   */
  async moveObject(
    bucketName: string,
    from: string,
    to: string,
    source: Preconditions,
    destination: Preconditions,
  ): Promise<StoredObject> {
    validateObjectName(to);
    const bucket = this.bucket(bucketName);
    const live = this.object(bucketName, from);
    checkPreconditions(live, source);
    const previous = bucket.objects.get(to);
    checkPreconditions(previous, destination);
    if (from === to) throw gcsErrors.invalid("Source and destination object names must be different.");
    const moved: StoredObject = {
      ...live,
      name: to,
      generation: this.#nextGeneration(),
      metageneration: 1,
      updated: new Date(),
    };
    bucket.objects.delete(from);
    bucket.objects.set(to, moved);
    bucket.sortedNames = undefined;
    if (previous) await unlink(previous.file).catch(() => {});
    return moved;
  }

  /** Apply a partial resource: `null` clears a field, `metadata: {k: null}` removes one key. */
  patchObject(
    bucketName: string,
    name: string,
    patch: Record<string, unknown>,
    conditions: Preconditions,
    generation?: number,
  ): StoredObject {
    const live = this.object(bucketName, name, generation);
    checkPreconditions(live, conditions);
    for (const field of PATCHABLE) {
      if (!(field in patch)) continue;
      const value = patch[field];
      if (value === null) delete live[field];
      else if (typeof value === "string") live[field] = value;
      else throw gcsErrors.invalid(`Invalid value for field '${field}'.`);
    }
    if ("metadata" in patch) {
      const metadata = patch.metadata;
      if (metadata === null) delete live.metadata;
      else if (typeof metadata === "object" && !Array.isArray(metadata)) {
        const merged = { ...live.metadata };
        for (const [key, value] of Object.entries(metadata as Record<string, unknown>)) {
          if (value === null) delete merged[key];
          else merged[key] = String(value);
        }
        live.metadata = merged;
      } else throw gcsErrors.invalid("Invalid value for field 'metadata'.");
    }
    live.metageneration += 1;
    live.updated = new Date();
    return live;
  }

  /** Live object names of a bucket in UTF-8 byte order. */
  sortedNames(bucketName: string): string[] {
    const bucket = this.bucket(bucketName);
    bucket.sortedNames ??= [...bucket.objects.keys()].sort(compareNames);
    return bucket.sortedNames;
  }

  async close(): Promise<void> {
    this.#buckets.clear();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}

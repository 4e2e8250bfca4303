/**
 * The on-storage layout of a table: a folder of `part-NNNNN-<32 hex>.parquet` files, optionally under
 * Hive `col=value/` directories. Nothing else is written inside the folder. Reading accepts any folder
 * of parquet files (DuckDB's, Polars', Spark's), skipping the `_`/`.` entries those tools leave, and a
 * single parquet file.
 */
import { randomBytes } from "node:crypto";
import type { Entry, Storage } from "@ferry/plugin-kit";
import { baseName, compareKeys, FerryError, joinKey, relativeKey } from "@ferry/plugin-kit";

const PART_NAME = /^part-(\d+)-[0-9a-f]{32}\.parquet$/;

export interface PartFile {
  /** Key within the storage. */
  path: string;
  /** Key relative to the table folder ("" prefix for a single-file table). */
  relative: string;
  size: number;
}

export function partFileName(index: number): string {
  return `part-${String(index).padStart(5, "0")}-${randomBytes(16).toString("hex")}.parquet`;
}

/** The number in a ferry part name, or undefined for files others named. */
export function partNumber(fileName: string): number | undefined {
  const match = PART_NAME.exec(fileName);
  return match ? Number(match[1]) : undefined;
}

/** A key ending in `.parquet`, `.parq` or `.pq`: a table written there is that one file, not a folder of parts. */
export function isParquetFileKey(key: string): boolean {
  return /\.(parquet|parq|pq)$/i.test(key);
}

function isDataFile(relative: string): boolean {
  const segments = relative.split("/");
  if (segments.some((s) => s.startsWith(".") || s.startsWith("_"))) return false;
  return isParquetFileKey(relative);
}

/**
 * Rows come back in write order: ferry's parts sort by their number (numeric, so part-100000 follows
 * part-99999; numbers run across partition directories, so partitions come back in the order they were
 * first written), before files others named, which sort by path.
 */
function compareParts(a: PartFile, b: PartFile): number {
  const numberA = partNumber(baseName(a.relative));
  const numberB = partNumber(baseName(b.relative));
  if (numberA !== undefined && numberB !== undefined && numberA !== numberB) return numberA - numberB;
  if (numberA !== undefined && numberB === undefined) return -1;
  if (numberA === undefined && numberB !== undefined) return 1;
  return compareKeys(a.relative, b.relative);
}

/** Parquet files of the table at `path`, in read order. Empty when nothing is there. */
export async function listParts(storage: Storage, path: string, signal?: AbortSignal): Promise<PartFile[]> {
  let root: Entry | undefined;
  try {
    root = path === "" ? undefined : await storage.stat(path, { signal });
  } catch (error) {
    if (!FerryError.isInstance(error, "NotFound")) throw error;
    return [];
  }
  if (root?.kind === "file") return [{ path, relative: "", size: root.size }];
  const parts: PartFile[] = [];
  for await (const entry of storage.list(path, { recursive: true, signal })) {
    if (entry.kind !== "file") continue;
    const relative = relativeKey(path, entry.path);
    if (relative === undefined || !isDataFile(relative)) continue;
    parts.push({ path: entry.path, relative, size: entry.size });
  }
  return parts.sort(compareParts);
}

/** Highest ferry part number in the table, or -1. */
export function lastPartNumber(parts: readonly PartFile[]): number {
  let last = -1;
  for (const part of parts) {
    const n = partNumber(baseName(part.relative));
    if (n !== undefined && n > last) last = n;
  }
  return last;
}

export function partKey(tablePath: string, directory: string, index: number): string {
  return joinKey(tablePath, directory, partFileName(index));
}

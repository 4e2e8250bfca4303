/**
 * Reading only some rows of a row group: each column's pages that hold them (by its offset index),
 * its dictionary page, and nothing else; columns without an offset index (or that only the value path
 * decodes) are read whole and cut to the same rows. Every column comes back with exactly those rows.
 */

import type { ColumnVector, Field } from "@ferry/plugin-kit";
import { FerryError } from "@ferry/plugin-kit";
import { decodeChunk, planChunks, readColumnarGroup } from "./columnar.ts";
import { type PageIndexCache, pageIndexOf, type RowRanges, rowCount } from "./page-index.ts";
import { decompressorsFor, describeColumnFailure, type OpenPart } from "./part-reader.ts";
import { verifyPages } from "./row-group-bytes.ts";
import { takeVector } from "./take.ts";

/** Page spans this close together are fetched in one range read. */
const MERGE_GAP = 16 * 1024;

/** The rows in `ranges`, as indexes into the group. */
function rowsOf(ranges: RowRanges): Uint32Array {
  const out = new Uint32Array(rowCount(ranges));
  let j = 0;
  for (const [start, end] of ranges) for (let row = start; row < end; row++) out[j++] = row;
  return out;
}

interface Span {
  start: number;
  end: number;
}

async function fetchSpans(open: OpenPart, spans: readonly Span[]): Promise<Uint8Array> {
  const merged: Span[] = [];
  for (const span of spans) {
    const last = merged.at(-1);
    if (last && span.start - last.end <= MERGE_GAP && span.start >= last.end) last.end = span.end;
    else merged.push({ ...span });
  }
  const buffers = await Promise.all(merged.map((span) => open.file.slice(span.start, span.end)));
  // Only the spans asked for, in order: the bytes read across a gap are dropped.
  const total = spans.reduce((sum, span) => sum + span.end - span.start, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const span of spans) {
    const index = merged.findIndex((m) => m.start <= span.start && span.end <= m.end);
    const from = span.start - merged[index]!.start;
    out.set(new Uint8Array(buffers[index]!, from, span.end - span.start), at);
    at += span.end - span.start;
  }
  return out;
}

/**
 * One column's selected pages decoded, cut to the rows in `ranges`; undefined when the column has no
 * usable offset index (the caller reads it whole).
 */
async function readPages(
  open: OpenPart,
  groupIndex: number,
  planned: ReturnType<typeof planChunks>["planned"][number],
  ranges: RowRanges,
  where: string,
  maxPageExpansion: number,
  cache: PageIndexCache,
): Promise<ColumnVector | undefined> {
  const index = await pageIndexOf(open, groupIndex, planned.field.name, false, cache);
  if (!index) return undefined;
  const rows = open.rowGroups[groupIndex] ?? 0;
  const { pages } = index;
  const firstRow = (i: number) => (i < pages.length ? Number(pages[i]!.first_row_index) : rows);
  const selected: number[] = [];
  let r = 0;
  for (let i = 0; i < pages.length; i++) {
    while (r < ranges.length && ranges[r]![1] <= firstRow(i)) r++;
    if (r < ranges.length && ranges[r]![0] < firstRow(i + 1)) selected.push(i);
  }
  const spans: Span[] = [];
  const firstPage = Number(pages[0]!.offset);
  if (planned.start < firstPage) spans.push({ start: planned.start, end: firstPage }); // the dictionary
  for (const i of selected) {
    const start = Number(pages[i]!.offset);
    spans.push({ start, end: start + pages[i]!.compressed_page_size });
  }
  if (spans.some((span) => span.start < planned.start || span.end > planned.end)) return undefined;
  const bytes = await fetchSpans(open, spans);
  // The dictionary and the selected pages are a page sequence: their CRCs and sizes are checked as a
  // whole chunk's are.
  const chunk = open.metadata.row_groups[groupIndex]!.columns.find((c) => c.meta_data === planned.meta)!;
  verifyPages(bytes, chunk, planned.field.name, where, groupIndex);
  let decodedRows = 0;
  const base = new Map<number, number>();
  for (const i of selected) {
    base.set(i, decodedRows);
    decodedRows += firstRow(i + 1) - firstRow(i);
  }
  const vector = decodeChunk(
    bytes,
    planned.meta,
    decodedRows,
    planned.layout,
    planned.field.nullable,
    decompressorsFor(maxPageExpansion),
    maxPageExpansion,
    undefined,
  );
  const positions = new Uint32Array(rowCount(ranges));
  let j = 0;
  let p = 0;
  for (const [start, end] of ranges) {
    for (let row = start; row < end; row++) {
      // Rows and selected pages both ascend: the page pointer only moves forward.
      while (firstRow(selected[p]! + 1) <= row) p++;
      positions[j++] = base.get(selected[p]!)! + row - firstRow(selected[p]!);
    }
  }
  return takeVector(vector, positions);
}

/** `fields` of row group `groupIndex`, only the rows in `ranges` (sorted, apart), in columnar form. */
export async function readRowRanges(
  open: OpenPart,
  groupIndex: number,
  fields: readonly Field[],
  ranges: RowRanges,
  where: string,
  maxPageExpansion: number,
  cache: PageIndexCache,
): Promise<Record<string, ColumnVector>> {
  const rows = open.rowGroups[groupIndex] ?? 0;
  const { planned } = planChunks(open, groupIndex, fields, rows);
  const out: Record<string, ColumnVector> = {};
  await Promise.all(
    planned.map(async (chunk) => {
      try {
        const vector = await readPages(open, groupIndex, chunk, ranges, where, maxPageExpansion, cache);
        if (vector) out[chunk.field.name] = vector;
      } catch (error) {
        // A storage failure is the read's; a page this path cannot decode is read with the whole column.
        if (FerryError.isInstance(error))
          throw describeColumnFailure(error, where, chunk.field.name, groupIndex);
      }
    }),
  );
  const whole = fields.filter((field) => !out[field.name]);
  if (whole.length > 0) {
    const wanted = rowsOf(ranges);
    const columns = await readColumnarGroup(open, groupIndex, whole, where, maxPageExpansion);
    for (const field of whole) out[field.name] = takeVector(columns[field.name]!, wanted);
  }
  return out;
}

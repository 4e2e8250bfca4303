/**
 * The page index (column index: each page's min, max and nulls; offset index: where each page is and
 * its first row), where a file has one (Polars, arrow-rs, Spark and ferry's streamed writes do): the
 * rows of a row group a filter could keep, as ranges, so that only the pages holding them are fetched.
 */

import type { ColumnChunk, ColumnIndex, OffsetIndex } from "hyparquet";
import { readColumnIndex, readOffsetIndex } from "hyparquet";
import { asBytes, decimalBound } from "./decimal-stats.ts";
import { type CompiledFilter, mayMatch, type Range } from "./filter.ts";
import { statKey } from "./filter-stats.ts";
import { type OpenPart, PARSERS } from "./part-reader.ts";

type PageLocation = OffsetIndex["page_locations"][number];

/** Rows [start, end) of a row group, sorted and apart. */
export type RowRanges = readonly (readonly [number, number])[];

/** Index reads so far, by part, row group and column (undefined: the column has none usable). */
export type PageIndexCache = Map<string, Promise<PageIndex | undefined>>;

export interface PageIndex {
  pages: readonly PageLocation[];
  /** What each page holds, for the column index's column; undefined without a column index. */
  ranges?: readonly Range[] | undefined;
}

function chunkOf(open: OpenPart, groupIndex: number, column: string): ColumnChunk | undefined {
  return open.metadata.row_groups[groupIndex]?.columns.find(
    (chunk) => chunk.meta_data?.path_in_schema.length === 1 && chunk.meta_data.path_in_schema[0] === column,
  );
}

async function readIndex<T>(
  open: OpenPart,
  offset: bigint | undefined,
  length: number | undefined,
  read: (reader: { view: DataView; offset: number }) => T,
): Promise<T | undefined> {
  if (offset === undefined || length === undefined || length <= 0) return undefined;
  const start = Number(offset);
  if (start < 0 || start + length > open.file.byteLength) return undefined;
  const bytes = await open.file.slice(start, start + length);
  return read({ view: new DataView(bytes), offset: 0 });
}

/**
 * The offset index of `column` in row group `groupIndex` (and, with `withRanges`, its column index as
 * page ranges). Undefined when the file has none or it does not parse: then pages are not skipped.
 */
export function pageIndexOf(
  open: OpenPart,
  groupIndex: number,
  column: string,
  withRanges: boolean,
  cache: PageIndexCache,
): Promise<PageIndex | undefined> {
  const key = `${open.part.path}\u0000${groupIndex}\u0000${column}\u0000${withRanges}`;
  let pending = cache.get(key);
  if (!pending) {
    pending = (async (): Promise<PageIndex | undefined> => {
      const chunk = chunkOf(open, groupIndex, column);
      const element = open.metadata.schema.find((e, i) => i > 0 && e.name === column && !e.num_children);
      const field = open.fileSchema.fields.find((f) => f.name === column);
      if (!chunk || !element || !field) return undefined;
      const offsets = await readIndex<OffsetIndex>(
        open,
        chunk.offset_index_offset,
        chunk.offset_index_length,
        readOffsetIndex,
      );
      const rows = open.rowGroups[groupIndex] ?? 0;
      if (!offsets || !pagesAreSound(offsets.page_locations, rows)) return undefined;
      // INT96's sort order is undefined in the parquet spec: its pages are never skipped by value.
      if (!withRanges || element.type === "INT96") return { pages: offsets.page_locations };
      const decimal = field.type.type === "decimal";
      const index = await readIndex<ColumnIndex>(
        open,
        chunk.column_index_offset,
        chunk.column_index_length,
        (reader) => readColumnIndex(reader, decimal ? asBytes(element) : element, PARSERS),
      );
      const keyOf = (value: unknown) => (decimal ? decimalBound(value, element) : statKey(field.type, value));
      if (!index || index.null_pages.length !== offsets.page_locations.length)
        return { pages: offsets.page_locations };
      const ranges = index.null_pages.map((empty, i): Range => {
        if (empty) return { nulls: "all" };
        const count = index.null_counts?.[i];
        const nulls = count === undefined ? "unknown" : Number(count) === 0 ? "none" : "some";
        return {
          min: keyOf(index.min_values[i]),
          max: keyOf(index.max_values[i]),
          nulls,
        };
      });
      return { pages: offsets.page_locations, ranges };
    })().catch(() => undefined);
    cache.set(key, pending);
  }
  return pending;
}

/** Page first rows start at 0 and increase within the group; anything else is not trusted. */
function pagesAreSound(pages: readonly PageLocation[], rows: number): boolean {
  if (pages.length === 0 || Number(pages[0]!.first_row_index) !== 0) return false;
  for (let i = 1; i < pages.length; i++) {
    const first = Number(pages[i]!.first_row_index);
    if (!(first > Number(pages[i - 1]!.first_row_index) && first < rows)) return false;
  }
  return true;
}

/** The page of `pages` that holds `row`. */
export function pageAt(pages: readonly PageLocation[], row: number): number {
  let low = 0;
  let high = pages.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (Number(pages[middle]!.first_row_index) <= row) low = middle;
    else high = middle - 1;
  }
  return low;
}

/**
 * The rows of row group `groupIndex` that the filter could keep, judged page by page from the column
 * indexes of its columns; undefined when that rules out nothing (or the file has no page index).
 */
export async function candidateRows(
  filter: CompiledFilter,
  open: OpenPart,
  groupIndex: number,
  fixed: (column: string) => Range | undefined,
  cache: PageIndexCache,
): Promise<RowRanges | undefined> {
  const rows = open.rowGroups[groupIndex] ?? 0;
  const indexes = new Map<string, PageIndex & { ranges: readonly Range[] }>();
  for (const column of filter.columns) {
    if (fixed(column)) continue;
    const index = await pageIndexOf(open, groupIndex, column, true, cache);
    if (index?.ranges && index.pages.length > 1) indexes.set(column, { ...index, ranges: index.ranges });
  }
  if (indexes.size === 0) return undefined;
  const bounds = new Set<number>([0, rows]);
  for (const { pages } of indexes.values())
    for (const page of pages) bounds.add(Number(page.first_row_index));
  const edges = [...bounds].sort((a, b) => a - b);
  const kept: [number, number][] = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    const start = edges[i]!;
    const rangeOf = (column: string): Range | undefined => {
      const given = fixed(column);
      if (given) return given;
      const index = indexes.get(column);
      return index?.ranges[pageAt(index.pages, start)];
    };
    if (!mayMatch(filter, rangeOf)) continue;
    const last = kept.at(-1);
    if (last && last[1] === start) last[1] = edges[i + 1]!;
    else kept.push([start, edges[i + 1]!]);
  }
  if (kept.length === 1 && kept[0]![0] === 0 && kept[0]![1] === rows) return undefined;
  return kept;
}

/** Rows in the ranges. */
export function rowCount(ranges: RowRanges): number {
  let count = 0;
  for (const [start, end] of ranges) count += end - start;
  return count;
}

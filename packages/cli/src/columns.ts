/**
 * Rows for people as aligned columns under a header, without borders (cli-table3 does the widths,
 * also for wide characters); scripts get the same rows as `--json` events instead.
 */
import Table from "cli-table3";

const NO_BORDERS = {
  top: "",
  "top-mid": "",
  "top-left": "",
  "top-right": "",
  bottom: "",
  "bottom-mid": "",
  "bottom-left": "",
  "bottom-right": "",
  left: "",
  "left-mid": "",
  mid: "",
  "mid-mid": "",
  right: "",
  "right-mid": "",
  middle: "  ",
};

export type Align = "left" | "right";

export function columns(
  head: readonly string[],
  rows: readonly string[][],
  align: readonly Align[] = [],
): string {
  const table = new Table({
    head: [...head],
    chars: NO_BORDERS,
    colAligns: head.map((_, index) => align[index] ?? "left"),
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0 },
  });
  table.push(...rows.map((row) => [...row]));
  return table
    .toString()
    .split("\n")
    .map((line) => line.trimEnd())
    .join("\n");
}

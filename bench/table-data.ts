import { type Schema, t } from "@ferry/plugin-kit";

/** The benchmark tables' schema: int32, int64, float64, string, bool, timestamp[ms, UTC]. */
export const schema: Schema = {
  fields: [
    t.field("id", t.int32()),
    t.field("big", t.int64()),
    t.field("score", t.float64()),
    t.field("name", t.string()),
    t.field("flag", t.bool()),
    t.field("at", t.timestamp("ms", "UTC")),
  ],
};

/** The benchmark tables' 6 columns (int32, int64, float64, string, bool, timestamp[ms]) for `n` rows. */
export function columns(n: number) {
  const id = new Array<number>(n);
  const big = new Array<bigint>(n);
  const score = new Array<number>(n);
  const name = new Array<string>(n);
  const flag = new Array<boolean>(n);
  const at = new Array<Date>(n);
  for (let i = 0; i < n; i++) {
    id[i] = i;
    big[i] = BigInt(i) * 1_000_003n;
    score[i] = i / 7;
    name[i] = `name-${i % 5000}`;
    flag[i] = i % 3 === 0;
    at[i] = new Date(1_700_000_000_000 + i * 1000);
  }
  return { id, big, score, name, flag, at };
}

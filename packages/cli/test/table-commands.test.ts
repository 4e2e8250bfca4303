import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Table, table } from "@ferry/core";
import { t } from "@ferry/plugin-kit";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { registerTableCommands } from "../src/commands/table.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-table-cli-"));
  await table({ id: [1, 2, 3, 4, 5, 6], grade: ["a", "b", "b", "a", "a", "e"] }, join(dir, "seed")).write();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `ferry table ...` in process through the registered commands; returns stdout, stderr and the exit code. */
async function ferryTable(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const program = new Command().exitOverride();
  registerTableCommands(program);
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    stdout += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    return true;
  });
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  process.exitCode = 0;
  try {
    await program.parseAsync(["table", ...args], { from: "user" });
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { code, stdout, stderr };
}

describe("ferry table head | schema | count", () => {
  it("head prints the first rows as a grid, or JSON lines", async () => {
    const plain = await ferryTable("head", "-n", "3", join(dir, "seed"));
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe("id  grade\n1   a\n2   b\n3   b\n");
    const json = await ferryTable("head", "-n", "2", "--columns", "grade", "--json", join(dir, "seed"));
    expect(
      json.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line)),
    ).toEqual([
      { event: "row", grade: "a" },
      { event: "row", grade: "b" },
    ]);
  });

  it("schema and count", async () => {
    expect((await ferryTable("schema", join(dir, "seed"))).stdout).toBe("id: int32\ngrade: string\n");
    expect((await ferryTable("count", join(dir, "seed"))).stdout).toBe("6\n");
    const missing = await ferryTable("count", join(dir, "nothing"));
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/NotFound: no table at/);
  });

  it("head and schema show time, duration and interval columns", async () => {
    const location = join(dir, "times");
    const schema = {
      fields: [t.field("at", t.time("us")), t.field("wait", t.duration("ns")), t.field("span", t.interval())],
    };
    const values = {
      at: [45_296_789_012n],
      wait: [2n ** 60n],
      span: [{ months: 1, days: 2, milliseconds: 3 }],
    };
    await table(values, location, { schema }).write();
    expect((await ferryTable("schema", location)).stdout).toBe(
      "at: time[us]\nwait: duration[ns]\nspan: interval\n",
    );
    const json = await ferryTable("head", "--json", location);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      event: "row",
      at: 45_296_789_012,
      wait: "1152921504606846976",
      span: { months: 1, days: 2, milliseconds: 3 },
    });
  });
});

describe("ferry table convert", () => {
  it("CSV → partitioned table, inferring int64, float64, bool and string, empty cells as null", async () => {
    const csv = join(dir, "people.csv");
    await writeFile(
      csv,
      'id,score,ok,name,team\n1,0.5,true,"Smith, J",red\n2,,false,Ann,blue\n3,1e3,TRUE,,red\n',
    );
    const run = await ferryTable("convert", csv, join(dir, "people"), "--partition-by", "team");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("3 rows");
    const people = Table.from(join(dir, "people"));
    expect((await people.schema()).fields.map((f) => [f.name, f.type])).toEqual([
      ["id", t.int64()],
      ["score", t.float64()],
      ["ok", t.bool()],
      ["name", t.string()],
      ["team", t.string()],
    ]);
    expect(await people.fetch()).toEqual({
      id: [1n, 3n, 2n],
      score: [0.5, 1000, null],
      ok: [true, true, false],
      name: ["Smith, J", null, "Ann"],
      team: ["red", "red", "blue"],
    });
  });

  it("table → CSV and JSON lines → table round-trip the values", async () => {
    const source = join(dir, "typed");
    await table(
      {
        n: [1n, null],
        when: [new Date("2024-01-02T03:04:05Z"), null],
        tags: [["x"], []],
        bytes: [new Uint8Array([1, 2]), null],
      },
      source,
    ).write();
    expect((await ferryTable("convert", source, join(dir, "typed.csv"))).code).toBe(0);
    expect(await readFile(join(dir, "typed.csv"), "utf8")).toBe(
      'n,when,tags,bytes\n1,2024-01-02T03:04:05.000Z,"[""x""]",AQI=\n,,[],\n',
    );
    expect((await ferryTable("convert", source, join(dir, "typed.jsonl"))).code).toBe(0);
    expect(await readFile(join(dir, "typed.jsonl"), "utf8")).toBe(
      '{"n":1,"when":"2024-01-02T03:04:05.000Z","tags":["x"],"bytes":"AQI="}\n{"n":null,"when":null,"tags":[],"bytes":null}\n',
    );
    await writeFile(join(dir, "events.jsonl"), '{"id":1,"tags":["a"]}\n\n{"id":2,"tags":[],"extra":true}\n');
    expect((await ferryTable("convert", join(dir, "events.jsonl"), join(dir, "events"))).code).toBe(0);
    expect(await Table.from(join(dir, "events")).fetch()).toEqual({
      id: [1, 2],
      tags: [["a"], []],
      extra: [null, true],
    });
  });

  it("a parquet file → table, appending", async () => {
    const parts = await (await Table.from(join(dir, "seed")).reader()).parts();
    const file = `/${parts[0]!.path}`;
    await ferryTable("convert", file, join(dir, "appended"));
    await ferryTable("convert", file, join(dir, "appended"), "--mode", "append");
    expect(await Table.from(join(dir, "appended")).count()).toBe(12);
  });

  it("a JSON line with a key the first rows lacked is refused, not dropped", async () => {
    const lines = Array.from({ length: 10_000 }, (_, i) => JSON.stringify({ id: i }));
    lines.push(JSON.stringify({ id: 10_000, late: "kept?" }));
    await writeFile(join(dir, "late.jsonl"), `${lines.join("\n")}\n`);
    const run = await ferryTable("convert", join(dir, "late.jsonl"), join(dir, "late"));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/row 10001: column "late" is not among the columns of the first rows \(id\)/);
    expect(await Table.from(join(dir, "late")).exists()).toBe(false);
  });

  it("a CSV value that breaks the inferred type fails with a usage error naming row and column", async () => {
    const csv = join(dir, "bad.csv");
    await writeFile(
      csv,
      `n\n${Array.from({ length: 10_001 }, (_, i) => (i === 10_000 ? "x" : String(i))).join("\n")}\n`,
    );
    const run = await ferryTable("convert", csv, join(dir, "bad"));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/row 10001: column "n" was inferred as int64 .* "x" \(use --all-strings\)/);
    const strings = await ferryTable("convert", csv, join(dir, "bad"), "--all-strings");
    expect(strings.code).toBe(0);
    expect((await Table.from(join(dir, "bad")).schema()).fields[0]!.type).toEqual(t.string());
  });
});

describe("ferry table: one parquet file, CSV heads and stdout", () => {
  it("convert … out.parquet writes one parquet file that reads back as the table", async () => {
    const out = join(dir, "seed-copy.parquet");
    const run = await ferryTable("convert", join(dir, "seed"), out);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("6 rows");
    expect((await stat(out)).isFile()).toBe(true);
    expect((await ferryTable("count", out)).stdout).toBe("6\n");
    expect(await Table.from(out).fetch()).toEqual({
      id: [1, 2, 3, 4, 5, 6],
      grade: ["a", "b", "b", "a", "a", "e"],
    });
    const csv = join(dir, "teams.csv");
    await writeFile(csv, "id,team\n1,red\n2,blue\n");
    const partitioned = await ferryTable(
      "convert",
      csv,
      join(dir, "teams.parquet"),
      "--partition-by",
      "team",
    );
    expect(partitioned.code).toBe(2);
    expect(partitioned.stderr).toMatch(/--partition-by .* a table folder/);
    const appended = await ferryTable("convert", csv, out, "--mode", "append");
    expect(appended.code).toBe(2);
    expect(appended.stderr).toMatch(/--mode append .* one parquet file/);
    expect(await Table.from(out).count()).toBe(6);
  });

  it("head reads a CSV or JSON lines file", async () => {
    const csv = join(dir, "head.csv");
    await writeFile(csv, "id,name\n1,ann\n2,bob\n3,cy\n");
    const run = await ferryTable("head", "-n", "2", csv);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("id  name\n1   ann\n2   bob\n");
    const jsonl = join(dir, "head.jsonl");
    await writeFile(jsonl, '{"id":1,"name":"ann"}\n{"id":2,"name":"bob"}\n');
    expect((await ferryTable("head", "-n", "1", "--columns", "name", jsonl)).stdout).toBe("name\nann\n");
  });

  it("- as the destination writes CSV (or --to jsonl) to stdout and nothing else there", async () => {
    const csv = await ferryTable("convert", join(dir, "seed"), "-");
    expect(csv.code).toBe(0);
    expect(csv.stdout).toBe("id,grade\n1,a\n2,b\n3,b\n4,a\n5,a\n6,e\n");
    const jsonl = await ferryTable("convert", join(dir, "seed"), "-", "--to", "jsonl");
    expect(jsonl.stdout.split("\n")[0]).toBe('{"id":1,"grade":"a"}');
    expect(jsonl.stdout.trim().split("\n")).toHaveLength(6);
    const parquet = await ferryTable("convert", join(dir, "seed"), "-", "--to", "table");
    expect(parquet.code).toBe(2);
    expect(parquet.stderr).toMatch(/- \(stdout\) takes --to csv or --to jsonl/);
  });
});

describe("ferry table --where and --columns", () => {
  let sales: string;
  let csv: string;
  beforeAll(async () => {
    sales = join(dir, "sales");
    await table(
      {
        id: [1, 2, 3, 4, 5, 6, 7, 8],
        region: ["north", "south", "north", "east", null, "south", "north", "east"],
        amount: [10.5, 20, 30, 40, 50, 60, 70, 80],
        year: [2023, 2023, 2024, 2024, 2024, 2025, 2025, 2025],
      },
      sales,
      { partitionBy: ["year"] },
    ).write();
    csv = join(dir, "sales.csv");
    await writeFile(csv, "id,region,amount\n1,north,10.5\n2,south,20\n3,north,30\n4,east,40\n");
  });

  it("head --where keeps only the matching rows, of a table or a CSV file", async () => {
    const head = await ferryTable("head", "--where", "region = 'north' and amount > 20", sales);
    expect(head.code).toBe(0);
    expect(head.stdout).toBe(
      "id  region  amount  year\n3   north   30      2024\n7   north   70      2025\n",
    );
    const fromCsv = await ferryTable("head", "-w", "region in ('north', 'east')", "-c", "id", csv);
    expect(fromCsv.stdout).toBe("id\n1\n3\n4\n");
    const few = await ferryTable("head", "-n", "1", "--where", "year >= 2024", "--json", sales);
    expect(JSON.parse(few.stdout)).toEqual({ event: "row", id: 3, region: "north", amount: 30, year: 2024 });
  });

  it("count --where counts the rows it keeps, nulls kept out of comparisons", async () => {
    expect((await ferryTable("count", "--where", "region != 'north'", sales)).stdout).toBe("4\n");
    expect((await ferryTable("count", "--where", "region is null or year = 2023", sales)).stdout).toBe("3\n");
    expect((await ferryTable("count", "--where", "not (year = 2025)", sales)).stdout).toBe("5\n");
  });

  it("convert --where --columns writes only those rows and columns", async () => {
    const out = join(dir, "north.csv");
    const result = await ferryTable(
      "convert",
      sales,
      out,
      "--where",
      "region = 'north'",
      "--columns",
      "id,amount",
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^3 rows: /);
    expect(await readFile(out, "utf8")).toBe("id,amount\n1,10.5\n3,30\n7,70\n");
    const fromCsv = join(dir, "big-csv");
    await ferryTable("convert", csv, fromCsv, "--where", "amount >= 30");
    expect((await Table.from(fromCsv).fetch()) as unknown).toEqual({
      id: [3n, 4n],
      region: ["north", "east"],
      amount: [30, 40],
    });
  });

  it("a bad --where or --columns is a usage error in the flag's words, nothing written", async () => {
    const unknown = await ferryTable("head", "--where", "regoin = 'north'", sales);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(
      /--where: column "regoin" is not in the table \(columns: id, region, amount, year\)/,
    );
    const cut = await ferryTable("count", "--where", "amount >", sales);
    expect(cut.code).toBe(2);
    expect(cut.stderr).toMatch(/--where: expected a value .* found the end/);
    const typed = await ferryTable("head", "--where", "amount = 'x'", csv);
    expect(typed.stderr).toMatch(/--where: column "amount" is float64; "x" is not a value of that type/);
    const out = join(dir, "never.csv");
    const columns = await ferryTable("convert", sales, out, "--columns", "id,nope");
    expect(columns.code).toBe(2);
    expect(columns.stderr).toMatch(/--columns: "nope" is not a column of/);
    await expect(stat(out)).rejects.toThrow();
  });
});

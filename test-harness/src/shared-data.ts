/**
 * Test inputs no one here wrote — Apache parquet-testing, real Hugging Face datasets — read from the
 * shared data folder beside the repository (`../shared/data`).
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../shared/data/", import.meta.url));

/** The path of `parts` in the shared data folder (whether or not it is there). */
export function sharedData(...parts: string[]): string {
  return join(root, ...parts);
}

/**
 * Every parquet file of parquet-testing — data/ with its subfolders (geospatial/), and bad_data/ — as
 * `data/…` and `bad_data/…` paths, sorted; none when the corpus is missing.
 */
export function parquetCorpusFiles(): string[] {
  return (["data", "bad_data"] as const)
    .flatMap((dir) => {
      const path = sharedData("parquet-testing", dir);
      if (!existsSync(path)) return [];
      return (readdirSync(path, { recursive: true }) as string[])
        .filter((f) => f.endsWith(".parquet"))
        .map((f) => `${dir}/${f}`);
    })
    .sort();
}

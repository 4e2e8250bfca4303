import { describe, expect, it } from "vitest";
import { runExample } from "../run-example.ts";

describe("examples/catalog.ts", () => {
  it("runs the seed job, a pipeline, a failing command, verify and a get on local storage", async () => {
    const { code, stdout, stderr } = await runExample("catalog");
    expect(code).toBe(0);
    // The failing command's stderr is shown live, as a user would see it.
    expect(stderr).toBe("something went wrong\n");
    expect(stdout).toContain('"Output catalog content": [\n    "df.csv",\n    "data_folder/data.txt"\n  ]');
    expect(stdout).toMatch(/"status": "FAIL",\n {2}"Error": "command exited with code 3/);
    expect(stdout).toContain("[ 'changed: df.csv' ]");
    expect(stdout).toContain('"hello from the catalog\\n"');
  });
});

describe("examples/registry.ts", () => {
  it("saves and loads a Folder, a Table and a Blob by name, with history and sharing", async () => {
    const { code, stdout, stderr } = await runExample("registry");
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain(
      '{"id":[1,2],"grade":["a","b"]}\n{"id":[3,4],"grade":["b","a"]}\n{"id":[5,6],"grade":["a","e"]}',
    );
    expect(stdout).toContain("[0,1,2,3,4,5,6,7,8,9]");
    expect(stdout).toContain("version 1 has 6 rows");
    expect(stdout).toContain("[ '@/sample_table', '@/training_imgs' ]");
    expect(stdout).toMatch(/FerryError\[InvalidInput\]: metadata\.aws_secret_access_key/);
  });
});

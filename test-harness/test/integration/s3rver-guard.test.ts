/**
 * s3rver keeps serving when a PUT races a DELETE in the same folder (without the guard it ends the
 * whole server within a few rounds: an unhandled stream error after DeleteObject removed the folder).
 */
import { expect, it } from "vitest";
import { startS3rver } from "../../src/index.ts";

it("s3rver survives PUTs racing DELETEs in one folder (100 rounds) and still answers afterwards", async () => {
  const s3 = await startS3rver();
  try {
    const bucket = await s3.createBucket();
    const url = (key: string) => `${s3.endpoint}/${bucket}/${key}`;
    const refused: number[] = [];
    for (let round = 0; round < 100 && refused.length === 0; round++) {
      const folder = `race-${round % 3}`;
      const statuses = await Promise.all([
        fetch(url(`${folder}/a`), { method: "PUT", body: "a" }).then(
          (r) => r.status,
          () => -1,
        ),
        fetch(url(`${folder}/b`), { method: "PUT", body: "b" }).then(
          (r) => r.status,
          () => -1,
        ),
        fetch(url(`${folder}/a`), { method: "DELETE" }).then(
          (r) => r.status,
          () => -1,
        ),
        fetch(url(`${folder}/b`), { method: "DELETE" }).then(
          (r) => r.status,
          () => -1,
        ),
      ]);
      if (statuses.includes(-1)) refused.push(round);
    }
    expect(refused).toEqual([]);
    expect((await fetch(url("after"), { method: "PUT", body: "still here" })).status).toBe(200);
    expect(await (await fetch(url("after"))).text()).toBe("still here");
  } finally {
    await s3.stop();
  }
}, 60_000);

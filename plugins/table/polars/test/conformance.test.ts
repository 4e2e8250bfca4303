import { describeTableFlavour } from "@ferry/conformance";
import { t } from "@ferry/plugin-kit";
import polars from "../src/index.ts";

// Polars has no seconds unit: Datetime holds ms, us or ns, so timestamp[s] comes back as timestamp[ms].
describeTableFlavour("polars", () => polars(), {
  converts: { "timestamp[s, UTC]": { type: t.timestamp("ms", "UTC"), value: (v) => v } },
});

// The same suite through ferry's own parquet codec instead of polars' native reader/writer.
describeTableFlavour("polars (ferry codec)", () => polars({ nativeParquet: false }), {
  converts: { "timestamp[s, UTC]": { type: t.timestamp("ms", "UTC"), value: (v) => v } },
});

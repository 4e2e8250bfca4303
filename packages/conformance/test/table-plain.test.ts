import { plainFlavour } from "@ferry/parquet";
import { describeTableFlavour } from "../src/index.ts";

// The built-in flavour runs the same suite as every plugin: plain column objects carry their schema.
describeTableFlavour("plain", () => plainFlavour);

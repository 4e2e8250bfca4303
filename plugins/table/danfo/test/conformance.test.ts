import { describeTableFlavour } from "@ferry/conformance";
import danfo from "../src/index.ts";

// danfo holds JS numbers, strings, booleans and Dates only: the catalogue's int64/uint64 extremes
// (beyond 2^53) and sub-millisecond timestamps cannot be held, nor binary, list or struct columns.
describeTableFlavour("danfo", () => danfo(), {
  refuses: [
    "int64",
    "uint64",
    "timestamp[us, UTC]",
    "timestamp[ns]",
    "binary",
    "list<int32>",
    "list<string>",
    "struct<x: float64, label: string>",
  ],
});

import { describeTableFlavour } from "@ferry/conformance";
import hf from "../src/index.ts";

// An HfDataset holds any ferry column (it is ferry's own batches plus HF features), so every type round-trips.
describeTableFlavour("hf", () => hf());

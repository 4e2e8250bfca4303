import { describeTableFlavour } from "@ferry/conformance";
import arrow from "../src/index.ts";

// Arrow holds every ferry type natively.
describeTableFlavour("arrow", () => arrow());

import type { StorageCase } from "../types.ts";
import { capabilityCases } from "./capabilities.ts";
import { checksumCases } from "./checksum.ts";
import { concurrencyCases } from "./concurrency.ts";
import { conditionalCases } from "./conditional.ts";
import { copyCases, moveCases } from "./copy-move.ts";
import { deleteCases } from "./delete.ts";
import { directoryCases } from "./directories.ts";
import { keyCases } from "./keys.ts";
import { lifecycleCases } from "./lifecycle.ts";
import { listingCases } from "./listing.ts";
import { rangedWriteCases } from "./ranged.ts";
import { readCases } from "./read.ts";
import { statCases } from "./stat.ts";
import { writeCases } from "./write.ts";

/** Every built-in case, grouped in the order they run. */
export const ALL_CASES: readonly StorageCase[] = [
  ...lifecycleCases,
  ...keyCases,
  ...writeCases,
  ...rangedWriteCases,
  ...conditionalCases,
  ...readCases,
  ...statCases,
  ...directoryCases,
  ...listingCases,
  ...deleteCases,
  ...copyCases,
  ...moveCases,
  ...checksumCases,
  ...concurrencyCases,
  ...capabilityCases,
];

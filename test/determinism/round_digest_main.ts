/** Prints the round digest (test/browser/kernels.spec.ts compares it with Chromium's). */
import { roundDigest } from "./round_digest.ts";

console.log(`ROUND_DIGEST ${await roundDigest()}`);

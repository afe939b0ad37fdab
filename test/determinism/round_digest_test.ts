import { roundDigest } from "./round_digest.ts";

Deno.test("sparseloco round digest does not depend on the order updates arrive in", async () => {
  const a = await roundDigest(false), b = await roundDigest(true);
  if (!/^[0-9a-f]{64}$/.test(a)) throw new Error(`not a digest: ${a}`);
  if (a !== b) throw new Error(`forward ${a} != reverse ${b}`);
});

import { getPriority } from "node:os";
import { assertEquals, assertThrows } from "../src/testing/assert.ts";
import { lowerThreadPriority } from "./thread_priority.ts";

Deno.test("lowerThreadPriority lowers its own thread only, and refuses a malformed value", async () => {
  assertThrows(() => lowerThreadPriority("-5"), RangeError, "from 0 to 19");
  assertThrows(() => lowerThreadPriority("ten"), RangeError, "from 0 to 19");
  lowerThreadPriority("0"); // nothing
  lowerThreadPriority(undefined);
  const mine = getPriority(0);
  // A Worker lowers itself and reports its thread's priority and the main thread's (its id is the pid).
  const src = `import { getPriority } from "node:os";
    import { lowerThreadPriority } from ${
    JSON.stringify(new URL("./thread_priority.ts", import.meta.url).href)
  };
    lowerThreadPriority("7");
    const tid = Number(Deno.readLinkSync("/proc/thread-self").split("/").at(-1));
    self.postMessage([getPriority(tid), getPriority(Deno.pid)]);`;
  const w = new Worker(`data:application/javascript,${encodeURIComponent(src)}`, {
    type: "module",
  });
  try {
    const [thread, proc] = await new Promise<number[]>((r) => w.onmessage = (e) => r(e.data));
    if (Deno.build.os === "linux") assertEquals(thread, Math.min(19, mine + 7));
    assertEquals(proc, mine, "the main thread keeps its priority");
  } finally {
    w.terminate();
  }
});

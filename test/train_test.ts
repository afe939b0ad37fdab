/**
 * Local training on the shipped corpus: the loss falls, and steady-state steps allocate nothing.
 * Both run as `deno run` scripts: Dawn's mapAsync can stall for minutes inside `deno test`.
 */

/** Runs a script with `deno run` and returns the payload of its `prefix` line. */
async function runScript(script: string, args: string[], prefix: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.split("\n").find((l) => l.startsWith(prefix));
  if (out.code !== 0 || !line) {
    throw new Error(`${script} failed (exit ${out.code}):\n${text}\n${new TextDecoder().decode(out.stderr)}`);
  }
  return line.slice(prefix.length);
}

Deno.test("trainLocal loss falls clearly on the shipped corpus from a fixed seed", async () => {
  const args = ["--preset", "tiny", "--steps", "60", "--seed", "3", "--batch", "4", "--warmup", "10"];
  const losses: number[] = JSON.parse(await runScript("test/browser/deno_losses.ts", args, "LOSSES_JSON ")).losses;
  if (losses.length !== 60) throw new Error(`expected 60 losses, got ${losses.length}`);
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const start = mean(losses.slice(0, 5)), end = mean(losses.slice(-10));
  // A byte model starts near ln 256 ≈ 5.5; learning English letter statistics takes it below 3.2.
  if (!(start > 5 && end < 3.2)) {
    throw new Error(`loss went ${start.toFixed(3)} → ${end.toFixed(3)} (want > 5 → < 3.2): ${losses.map((l) => l.toFixed(2)).join(" ")}`);
  }
});

Deno.test("trainer steps allocate no GPU buffers or pipelines after the first", async () => {
  const line = await runScript("test/alloc_steps.ts", [], "ALLOC_JSON ");
  const { after1, after100 } = JSON.parse(line);
  if (after100.dispatches <= after1.dispatches) throw new Error("no work was dispatched");
  if (after100.buffersCreated !== after1.buffersCreated || after100.pipelinesCreated !== after1.pipelinesCreated) {
    throw new Error(
      `steps 2..100 created ${after100.buffersCreated - after1.buffersCreated} buffers and ` +
        `${after100.pipelinesCreated - after1.pipelinesCreated} pipelines`,
    );
  }
});

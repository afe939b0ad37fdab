/**
 * Module Worker that owns a peer's {@linkcode WindowTrainer} on the float32 CPU backend
 * (workers/worker_trainer.ts is its other side): it answers the peer's requests one at a time,
 * in the order they came, and posts every inner step of a window as it is taken.
 *
 * Peer → worker: `WindowRequest`; worker → peer: workers/worker_calls.ts' replies (a window's
 * steps as its progress).
 */
import { cpuOps } from "../src/backend/cpu_ops.ts";
import type { CpuTensor } from "../src/backend/cpu_ops.ts";
import { Sampler } from "../src/data/sampler.ts";
import { runContext } from "../src/protocol/run_context.ts";
import { type StepInfo, WindowTrainer } from "../src/roles/window_trainer.ts";
import type { WindowRequest, WindowValue } from "./worker_trainer.ts";
import { serveInOrder } from "./worker_calls.ts";
import { lowerThreadPriority } from "./thread_priority.ts";

let trainer: WindowTrainer<CpuTensor> | null = null;

/**
 * The shortest time between two step messages of a window (ms) unless "init" says otherwise;
 * the first is always sent.
 */
const STEP_REPORT_MS = 500;
let stepReportMs = STEP_REPORT_MS;

function ready(): WindowTrainer<CpuTensor> {
  if (trainer === null) throw new Error("the trainer worker was not initialised");
  return trainer;
}

async function handle(m: WindowRequest, progress: (step: StepInfo) => void): Promise<WindowValue> {
  switch (m.type) {
    case "init": {
      const ctx = runContext(m.genesis);
      const sampler = Sampler.ofRun(m.tokens, ctx.genesis);
      lowerThreadPriority(Deno.env.get("WEBLOCO_TRAIN_NICE"));
      const ops = cpuOps(32, { wasm: m.wasm });
      trainer = new WindowTrainer(ctx, ops, sampler, m.peer, { ...m.options, yields: false });
      stepReportMs = m.stepReportMs ?? STEP_REPORT_MS;
      return null;
    }
    case "train": {
      const t = ready();
      // The steps are the peer's status line only: one message per stepReportMs at most.
      // Each message cost this thread ~4 ms on the loaded 2-core machine (it wakes the peer's
      // thread): 0.2 s of an 8 s window, against 0.02 s with no step messages (README
      // "Round costs").
      let reported = -Infinity;
      const result = await t.train(m.theta, m.w, m.deadline, (step) => {
        const now = performance.now();
        if (now - reported < stepReportMs) return;
        reported = now;
        progress(step);
      });
      // The peer compresses after every window with steps and then reads the error feedback:
      // both come with the answer, which saves two thread wake-ups (on a loaded machine each
      // one waits for a free core).
      if (result.steps === 0) return { result, compressed: null };
      return { result, compressed: { tensors: await t.compress(), error: await t.readError() } };
    }
    case "load-error":
      ready().loadError(m.error);
      return null;
    case "read-error":
      return await ready().readError();
  }
}

serveInOrder(handle);

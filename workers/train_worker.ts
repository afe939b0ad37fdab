/**
 * Module Web Worker that trains the model locally: opens the browser's WebGPU runtime, tokenizes
 * the text it is sent with ByteTokenizer and runs `trainLocal`, posting every StepReport.
 *
 * Page → worker: `TrainRequest`; worker → page: `TrainMessage` (workers/train_protocol.ts).
 */
import { openRuntime } from "../src/kernels/open_runtime.ts";
import { adapterLabel } from "../src/gpu/device.ts";
import type { GpuRuntime } from "../src/gpu/runtime.ts";
import { ByteTokenizer } from "../src/data/byte_tokenizer.ts";
import { trainLocal } from "../src/train/train_loop.ts";
import { type TrainMessage, trainOptions, type TrainRequest } from "./train_protocol.ts";

/** The parts of DedicatedWorkerGlobalScope used here (the DOM lib types `self` as Window). */
const scope = self as unknown as {
  postMessage(message: TrainMessage): void;
  onmessage: ((ev: MessageEvent<TrainRequest>) => void) | null;
};

function post(m: TrainMessage): void {
  scope.postMessage(m);
}

async function train({ text, options }: TrainRequest): Promise<void> {
  const opts = trainOptions(options);
  const tokens = new ByteTokenizer().encode(text);
  let rt: GpuRuntime | null = null;
  try {
    rt = await openRuntime("browser");
    post({ type: "adapter", adapter: adapterLabel(rt.adapter) });
    post({ type: "start", options: opts, tokens: tokens.length });
    for await (const report of trainLocal(rt, tokens, opts)) {
      post({ type: "step", report });
    }
    post({ type: "done" });
  } finally {
    rt?.destroy();
  }
}

let busy = false;
scope.onmessage = (ev) => {
  if (busy) {
    post({ type: "error", message: "a training run is already in progress in this worker" });
    return;
  }
  busy = true;
  train(ev.data)
    .catch((e) => {
      post({ type: "error", message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    })
    .finally(() => {
      busy = false;
    });
};

/**
 * Module Worker that owns the validator's forward-only model (a {@linkcode ModelProbe} on the
 * float32 CPU backend; workers/probe_client.ts is its other side). It answers the validator's
 * loss requests one at a time, in the order they came. It keeps the last `PROBE_HELD` θ it
 * was sent, by version: a request names its θ's version and brings the θ only when the
 * validator's side knows this worker no longer (or never) held it — both sides evict the
 * oldest the same way.
 *
 * Validator → worker: `ProbeRequest`; worker → validator: workers/worker_calls.ts' replies.
 */
import { cpuOps } from "../src/backend/cpu_ops.ts";
import type { CpuTensor } from "../src/backend/cpu_ops.ts";
import { ModelProbe } from "../src/roles/model_probe.ts";
import { PROBE_HELD, type ProbeRequest, type ProbeValue } from "./probe_client.ts";
import { serveInOrder } from "./worker_calls.ts";

let probe: ModelProbe<CpuTensor> | null = null;
/** θ by version, oldest first (a Map keeps insertion order). */
const held = new Map<number, Float32Array>();

function thetaOf(version: number, theta: Float32Array | undefined): Float32Array {
  if (theta !== undefined) {
    held.set(version, theta);
    if (held.size > PROBE_HELD) held.delete(held.keys().next().value!);
    return theta;
  }
  const t = held.get(version);
  if (t === undefined) throw new Error(`the probe worker does not hold θ version ${version}`);
  return t;
}

async function handle(m: ProbeRequest): Promise<ProbeValue> {
  if (m.type === "init") {
    probe = new ModelProbe(cpuOps(32, { wasm: m.wasm }), m.genesis);
    return null;
  }
  if (probe === null) throw new Error("the probe worker was not initialised");
  const theta = thetaOf(m.version, m.theta);
  return m.type === "loss"
    ? await probe.loss(theta, m.batches)
    : await probe.sequenceLosses(theta, m.batches);
}

serveInOrder(handle);

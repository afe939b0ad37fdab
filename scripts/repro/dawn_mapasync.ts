/**
 * Minimal reproduction of Dawn's (npm `webgpu`) slow `GPUBuffer.mapAsync` inside `deno test`
 * (docs/DAWN_MAPASYNC.md). No project code: npm `webgpu` and Deno only.
 *
 *   deno run  -A scripts/repro/dawn_mapasync.ts run     # the loop in a plain process
 *   deno test -A scripts/repro/dawn_mapasync.ts         # the same loop inside a test
 *
 * Each iteration dispatches a small compute shader, copies 4 bytes to a MAP_READ buffer,
 * submits and awaits `mapAsync`; it prints the time of every await above 50 ms and a summary
 * line `REPRO {json}`. Knobs (environment): REPRO_ITERS (default 200), REPRO_WG (workgroups of
 * 64 threads × REPRO_LOOP multiply-adds, defaults 64 and 256), REPRO_WAIT (`map`, default, or
 * `done`: `queue.onSubmittedWorkDone()` instead of mapAsync), REPRO_THROTTLE (ms: replace
 * `globalThis.setImmediate`, which Dawn's node binding calls to poll its events, by a
 * `setTimeout` of that many ms). The summary counts the `setImmediate` calls.
 *
 * @module
 */

const ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";
if (!Deno.env.get("VK_ICD_FILENAMES") && !Deno.env.get("VK_DRIVER_FILES")) {
  try {
    Deno.statSync(ICD);
    Deno.env.set("VK_ADD_DRIVER_FILES", ICD);
  } catch { /* real drivers only */ }
}

// Dawn's node binding (src/dawn/node/binding/AsyncRunner.cpp) polls wgpuInstanceProcessEvents
// from a chain of setImmediate callbacks while any promise is pending: count them, and
// optionally throttle them.
let immediates = 0;
const original = globalThis.setImmediate;
const throttle = Number(Deno.env.get("REPRO_THROTTLE") ?? 0);
// deno-lint-ignore no-explicit-any
(globalThis as any).setImmediate = (cb: (...a: unknown[]) => void, ...args: unknown[]) => {
  immediates++;
  return throttle > 0 ? setTimeout(cb, throttle, ...args) : original(cb, ...args);
};

const LOOP = Number(Deno.env.get("REPRO_LOOP") ?? 256);
const SHADER = `
@group(0) @binding(0) var<storage, read_write> data: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  var acc = f32(id.x);
  for (var i = 0u; i < ${LOOP}u; i++) { acc = acc * 0.999 + 1.0; }
  data[id.x] = acc;
}`;

async function repro(): Promise<void> {
  const iters = Number(Deno.env.get("REPRO_ITERS") ?? 200);
  const wg = Number(Deno.env.get("REPRO_WG") ?? 64);
  const wait = Deno.env.get("REPRO_WAIT") ?? "map";
  const spec = "webgpu";
  const { create } = await import(spec);
  const gpu = create([]) as GPU;
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error("no adapter");
  const device = await adapter.requestDevice();
  const data = device.createBuffer({ size: wg * 64 * 4, usage: 0x80 | 0x4 }); // STORAGE | COPY_SRC
  const staging = device.createBuffer({ size: 4, usage: 0x1 | 0x8 }); // MAP_READ | COPY_DST
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module: device.createShaderModule({ code: SHADER }), entryPoint: "main" },
  });
  const group = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: data } }],
  });
  const times: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(wg);
    pass.end();
    enc.copyBufferToBuffer(data, 0, staging, 0, 4);
    device.queue.submit([enc.finish()]);
    const s = performance.now();
    if (wait === "done") await device.queue.onSubmittedWorkDone();
    else {
      await staging.mapAsync(1);
      staging.unmap();
    }
    const ms = performance.now() - s;
    times.push(ms);
    if (ms > 50) console.log(`iteration ${i}: await took ${ms.toFixed(0)} ms`);
  }
  const total = performance.now() - t0;
  const sorted = [...times].sort((a, b) => a - b);
  const summary = {
    mode: Deno.args[0] === "run" ? "deno run" : "deno test",
    deno: Deno.version.deno,
    wait,
    iters,
    wg,
    loop: LOOP,
    throttle,
    setImmediateCalls: immediates,
    totalMs: Math.round(total),
    medianMs: +sorted[Math.floor(iters / 2)].toFixed(2),
    maxMs: Math.round(sorted[iters - 1]),
    over1s: times.filter((t) => t > 1000).length,
    setImmediate: typeof (globalThis as { setImmediate?: unknown }).setImmediate,
  };
  console.log(`REPRO ${JSON.stringify(summary)}`);
  device.destroy();
}

if (Deno.args[0] === "run") {
  await repro();
  Deno.exit(0);
} else {
  Deno.test({
    name: "dawn mapAsync loop",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: repro,
  });
}

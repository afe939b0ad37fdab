import { assertEquals, assertThrows } from "../testing/assert.ts";
import { autoChoice, openBackend, parseBackend } from "./backend.ts";
import { UsageError } from "./cli.ts";

Deno.test("autoChoice takes the first hardware adapter, else the CPU backend", () => {
  const dawnSw = { backend: "dawn", software: true } as const;
  const wgpuSw = { backend: "wgpu", software: true } as const;
  const dawnHw = { backend: "dawn", software: false } as const;
  const wgpuHw = { backend: "wgpu", software: false } as const;
  const none = (backend: "dawn" | "wgpu") => ({ backend, software: null });
  assertEquals(autoChoice([]), "cpu");
  // This machine: SwiftShader and lavapipe only.
  assertEquals(autoChoice([dawnSw, wgpuSw]), "cpu");
  assertEquals(autoChoice([none("dawn"), none("wgpu")]), "cpu");
  assertEquals(autoChoice([dawnHw, wgpuHw]), "dawn");
  // Dawn on SwiftShader while Deno's wgpu sees the real GPU: the GPU, through wgpu.
  assertEquals(autoChoice([dawnSw, wgpuHw]), "wgpu");
  assertEquals(autoChoice([none("dawn"), wgpuHw]), "wgpu");
  assertEquals(autoChoice([wgpuHw, dawnHw]), "wgpu");
});

Deno.test("parseBackend names the choices on a bad value", () => {
  assertEquals(parseBackend("wgpu"), "wgpu");
  const e = assertThrows(() => parseBackend("metal"), UsageError);
  assertEquals(e.message, '--backend must be auto, dawn, wgpu, cpu, got "metal"');
});

Deno.test("openBackend cpu says so in one line", async () => {
  const lines: string[] = [];
  const ops = await openBackend("cpu", (l) => lines.push(l));
  assertEquals(lines.length, 1);
  assertEquals(lines[0], `backend: CPU (float32, ${ops.name})`);
});

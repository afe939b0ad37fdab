import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import type { RoleStatus } from "../roles/role_events.ts";
import { UsageError } from "./cli.ts";
import { parseMetricsFlag, RoleMetrics, serveMetrics } from "./metrics.ts";

const STATUS: RoleStatus = {
  event: "status",
  role: "peer",
  address: "5GrwvaEF",
  window: 7,
  phase: "training",
  step: 12,
  of: 30,
  loss: 5.5,
  applied: 6,
  validLoss: null,
  modelHash: "0123456789ab",
  bytesUp: 3600,
  bytesDown: 7200,
  contributors: 3,
  connections: 2,
  standing: null,
  credit: null,
};

Deno.test("metrics serves the role's status as Prometheus text at GET /metrics", async () => {
  const m = new RoleMetrics();
  m.add(STATUS);
  m.add({
    event: "applied",
    role: "peer",
    address: "5GrwvaEF",
    window: 6,
    modelHash: "01",
    contributors: 3,
    selected: [],
  });
  m.add({ ...STATUS, validLoss: 4.75, phase: 'odd "phase"' });
  const server = serveMetrics({ hostname: "127.0.0.1", port: 0 }, m);
  try {
    const base = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`;
    const res = await fetch(`${base}/metrics`);
    assertEquals(res.status, 200);
    assert(res.headers.get("content-type")!.startsWith("text/plain; version=0.0.4"));
    const text = await res.text();
    const l = `role="peer",address="5GrwvaEF"`;
    for (
      const line of [
        `webloco_window{${l}} 7`,
        `webloco_inner_step{${l}} 12`,
        `webloco_loss{${l}} 5.5`,
        `webloco_validation_loss{${l}} 4.75`,
        `webloco_bytes_up_total{${l}} 3600`,
        `webloco_bytes_down_total{${l}} 7200`,
        `webloco_connections{${l}} 2`,
        `webloco_records_applied_total{${l}} 1`,
        `webloco_phase_info{${l},phase="odd \\"phase\\""} 1`,
        `webloco_model_info{${l},model_hash="0123456789ab"} 1`,
        `# TYPE webloco_bytes_up_total counter`,
      ]
    ) assert(text.split("\n").includes(line), `missing ${line} in\n${text}`);
    const other = await fetch(`${base}/`);
    assertEquals(other.status, 404);
    await other.body?.cancel();
  } finally {
    await server.shutdown();
  }
});

Deno.test("metrics --metrics takes PORT or HOST:PORT, and names the flag otherwise", () => {
  assertEquals(parseMetricsFlag("9464"), { hostname: "127.0.0.1", port: 9464 });
  assertEquals(parseMetricsFlag("0.0.0.0:9464"), { hostname: "0.0.0.0", port: 9464 });
  assertEquals(parseMetricsFlag("[::]:9464"), { hostname: "::", port: 9464 });
  for (const bad of ["", "http://x", "70000", "0", "host:"]) {
    assertThrows(() => parseMetricsFlag(bad), UsageError, "--metrics: expected a port like 9464");
  }
});

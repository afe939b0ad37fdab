/**
 * Prometheus metrics of a running role, for operators who run many peers: `--metrics PORT`
 * (or `HOST:PORT`; the host defaults to 127.0.0.1) serves `GET /metrics` in the text
 * exposition format (version 0.0.4) with `Deno.serve`. The format is a few lines of text per
 * metric, so it is written here rather than through a Node metrics registry.
 *
 *   webloco_window{role="peer",address="5F…"} 12
 *   webloco_model_info{role="peer",address="5F…",model_hash="0123456789ab"} 1
 *
 * @module
 */

import type { RoleEvent, RoleStatus } from "../roles/role_events.ts";
import { UsageError } from "./cli.ts";

/** Where `--metrics` listens. */
export interface MetricsAddress {
  hostname: string;
  port: number;
}

/** Parses `--metrics PORT` or `HOST:PORT`; throws {@linkcode UsageError}. */
export function parseMetricsFlag(text: string): MetricsAddress {
  const m = /^(?:(.+):)?(\d{1,5})$/.exec(text.trim());
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || !(port >= 1 && port <= 65535)) {
    throw new UsageError(
      `--metrics: expected a port like 9464 or HOST:PORT like 0.0.0.0:9464, got "${text}"`,
    );
  }
  return { hostname: m[1]?.replace(/^\[(.*)\]$/, "$1") ?? "127.0.0.1", port };
}

/** What the metrics show: the role's latest status and what it has done so far. */
export class RoleMetrics {
  #status: RoleStatus | null = null;
  #records = 0;

  /** Takes one event of the role. */
  add(e: RoleEvent): void {
    if (e.event === "status") this.#status = e;
    else if (e.event === "applied") this.#records++;
  }

  /** The exposition text (empty before the first status). */
  text(): string {
    const s = this.#status;
    if (s === null) return "";
    const labels = `role="${s.role}",address="${escape(s.address)}"`;
    const out: string[] = [];
    const metric = (
      name: string,
      type: "gauge" | "counter",
      help: string,
      value: number | null,
      extra = "",
    ) => {
      out.push(`# HELP webloco_${name} ${help}`, `# TYPE webloco_${name} ${type}`);
      out.push(`webloco_${name}{${labels}${extra}} ${value === null ? "NaN" : value}`);
    };
    metric("window", "gauge", "The window open now.", s.window);
    metric(
      "phase_info",
      "gauge",
      "What the role is doing (the phase is a label).",
      1,
      `,phase="${escape(s.phase)}"`,
    );
    metric("inner_step", "gauge", "Inner step within the window (peers).", s.step);
    metric("inner_steps_max", "gauge", "Most inner steps per window (H).", s.of);
    metric(
      "loss",
      "gauge",
      "Mean training loss of the last window trained (NaN: none yet).",
      s.loss,
    );
    metric(
      "validation_loss",
      "gauge",
      "Held-out loss carried by the last round record (NaN: none).",
      s.validLoss,
    );
    metric("bytes_up_total", "counter", "Payload bytes published.", s.bytesUp);
    metric("bytes_down_total", "counter", "Payload bytes fetched.", s.bytesDown);
    metric("connections", "gauge", "Connected libp2p peers.", s.connections);
    metric("contributors", "gauge", "Contributors of the last round record.", s.contributors);
    metric(
      "applied_window",
      "gauge",
      "Window of the last round record applied (-1: none).",
      s.applied,
    );
    metric(
      "records_applied_total",
      "counter",
      "Round records applied since the role started.",
      this.#records,
    );
    metric(
      "model_info",
      "gauge",
      "The model held now (its hash prefix is a label).",
      1,
      `,model_hash="${escape(s.modelHash)}"`,
    );
    return out.join("\n") + "\n";
  }
}

/** Serves `metrics.text()` at `GET /metrics` until the returned server is shut down. */
export function serveMetrics(at: MetricsAddress, metrics: RoleMetrics): Deno.HttpServer {
  return Deno.serve({ hostname: at.hostname, port: at.port, onListen: () => {} }, (req) => {
    if (new URL(req.url).pathname !== "/metrics" || req.method !== "GET") {
      return new Response("not found; GET /metrics\n", { status: 404 });
    }
    return new Response(metrics.text(), {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  });
}

/** A label value as the exposition format escapes it. */
function escape(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/**
 * A loss curve on a canvas: the training demo's per-step losses and the volunteer page's
 * per-round losses.
 *
 * @module
 */

/** Draws `losses` (NaN: skipped) as a line on `canvas`, with the highest and lowest values. */
export function drawLossChart(canvas: HTMLCanvasElement, losses: readonly number[]): void {
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const { width: w, height: h } = canvas;
  ctx.clearRect(0, 0, w, h);
  const finite = losses.filter(Number.isFinite);
  if (finite.length === 0) return;
  const lo = Math.min(...finite), hi = Math.max(...finite);
  const pad = 24, span = hi - lo || 1;
  const x = (i: number) =>
    pad + (losses.length === 1 ? 0 : (i / (losses.length - 1)) * (w - 2 * pad));
  const y = (v: number) => h - pad - ((v - lo) / span) * (h - 2 * pad);
  ctx.strokeStyle = "#3b5bdb";
  ctx.lineWidth = 2;
  ctx.beginPath();
  losses.forEach((v, i) => {
    if (!Number.isFinite(v)) return;
    if (i === 0) ctx.moveTo(x(i), y(v));
    else ctx.lineTo(x(i), y(v));
  });
  ctx.stroke();
  ctx.fillStyle = "#6b7385";
  ctx.font = "12px ui-monospace, monospace";
  ctx.fillText(hi.toFixed(3), 2, pad - 8);
  ctx.fillText(lo.toFixed(3), 2, h - 6);
}

/**
 * The LLaMA decoder, forward and backward, written once against `Ops<T>` (llm.c style: explicit
 * activations and gradients, no tape). Runs on the GPU kernels or on the TypeScript references.
 */
import type { Ops } from "../backend/ops.ts";
import type { ModelConfig } from "./config.ts";
import { type ParamEntry, type ParamLayout, paramLayout } from "./params.ts";
import { ropeTable } from "../reference/rope.ts";
import { embeddingIndex } from "../reference/embedding.ts";

interface LayerParams<T> {
  inNorm: T; wq: T; wk: T; wv: T; wo: T; postNorm: T; wg: T; wu: T; wd: T;
}

/** Saved activations of one layer for the backward pass. */
interface LayerActs<T> {
  x: T; xn: T; rstd: T; q: T; k: T; v: T; qr: T; kr: T; att: T; lse: T; ao: T;
  x2: T; xn2: T; rstd2: T; g: T; u: T; h: T; mo: T;
}

/** Gradients and backward scratch. dX: the shape of X's activation (BT·C, BT·F, …). */
interface BackwardBuffers<T> {
  grads: T;
  g: { wte: T; final: T; lm: T; layers: LayerParams<T>[] };
  dres: T; dxn: T; dtmp: T; dq: T; dk: T; dv: T; dqr: T; dkr: T; datt: T; dh: T; dg: T; du: T;
  dlogits: T;
}

/** A LLaMA model with its parameters, gradients and activations for batches of B×T tokens. */
export class Llama<T> {
  readonly layout: ParamLayout;
  readonly params: T;
  readonly B: number;
  readonly T: number;
  /** Activation checkpointing per layer (see the constructor). */
  readonly recompute: boolean;
  private readonly p: { wte: T; final: T; lm: T; layers: LayerParams<T>[] };
  private readonly acts: LayerActs<T>[];
  private readonly tokens: T;
  private readonly targets: T;
  private readonly rowStart: T;
  private readonly positions: T;
  private readonly rope: T;
  private readonly xFinal: T;
  private readonly xfn: T;
  private readonly rstdF: T;
  private readonly logits: T;
  readonly losses: T;
  /** Gradients and backward scratch; null for a forward-only model. */
  readonly #bwd: BackwardBuffers<T> | null;
  /** With `recompute`: the layer whose activations the shared scratch holds (-1: none). */
  #scratchLayer = -1;

  /**
   * `forwardOnly`: no gradients and no backward scratch (a validator measuring losses needs
   * only the forward pass: about half the memory of a training model).
   *
   * `recompute` (activation checkpointing per layer): keep only each layer's input `x` and one
   * set of the other 17 activation buffers, shared by all layers; the backward pass runs each
   * layer's forward again from its saved input just before that layer's backward. Activations
   * then cost L·BT·C + one layer instead of L layers (1b at batch 4 × 2048: 2.30 GiB instead of
   * 21.8 GiB) for about one more forward pass per step. The recomputed values are the same
   * kernels on the same inputs, so losses and gradients are bit-identical to `recompute: false`
   * (src/model/llama_recompute_test.ts, CPU reference and WebGPU).
   */
  constructor(
    readonly ops: Ops<T>,
    readonly config: ModelConfig,
    batch: number,
    seqLen: number,
    { forwardOnly = false, recompute = false }: { forwardOnly?: boolean; recompute?: boolean } = {},
  ) {
    if (seqLen > config.context) {
      throw new Error(`sequence length ${seqLen} exceeds the model context ${config.context}`);
    }
    const c = config, o = ops;
    this.B = batch;
    this.T = seqLen;
    this.layout = paramLayout(c);
    this.params = o.tensor(this.layout.length, "params", this.layout.entries);
    this.p = this.bind(this.params);
    const BT = batch * seqLen, C = c.dModel, D = C / c.nHeads;
    const QD = c.nHeads * D, KD = c.nKvHeads * D, F = c.ffnHidden, V = c.vocabSize;
    const layerActs = (l: number, x?: T): LayerActs<T> => {
      const t = (n: number, name: string) => o.tensor(n, `l${l}.${name}`);
      return {
        x: x ?? t(BT * C, "x"), xn: t(BT * C, "xn"), rstd: t(BT, "rstd"), q: t(BT * QD, "q"),
        k: t(BT * KD, "k"), v: t(BT * KD, "v"), qr: t(BT * QD, "qr"), kr: t(BT * KD, "kr"),
        att: t(BT * QD, "att"), lse: t(batch * c.nHeads * seqLen, "lse"), ao: t(BT * C, "ao"),
        x2: t(BT * C, "x2"), xn2: t(BT * C, "xn2"), rstd2: t(BT, "rstd2"), g: t(BT * F, "g"),
        u: t(BT * F, "u"), h: t(BT * F, "h"), mo: t(BT * C, "mo"),
      };
    };
    this.recompute = recompute;
    if (recompute) {
      // One scratch set (labelled l0.*) behind every layer; only the inputs are per layer.
      const xs = Array.from({ length: c.nLayers }, (_, l) => o.tensor(BT * C, `l${l}.x`));
      const shared = layerActs(0, xs[0]);
      this.acts = xs.map((x) => ({ ...shared, x }));
    } else {
      this.acts = Array.from({ length: c.nLayers }, (_, l) => layerActs(l));
    }
    this.tokens = o.indices(BT, "tokens");
    this.targets = o.indices(BT, "targets");
    this.rowStart = o.indices(V + 1, "rowStart");
    this.positions = o.indices(BT, "positions");
    this.rope = o.tensor(seqLen * D, "rope");
    o.write(this.rope, ropeTable(seqLen, D, c.ropeTheta));
    this.xFinal = o.tensor(BT * C, "xFinal");
    this.xfn = o.tensor(BT * C, "xfn");
    this.rstdF = o.tensor(BT, "rstdF");
    this.logits = o.tensor(BT * V, "logits");
    this.losses = o.tensor(BT, "losses");
    if (forwardOnly) {
      this.#bwd = null;
    } else {
      const grads = o.tensor(this.layout.length, "grads", this.layout.entries);
      this.#bwd = {
        grads,
        g: this.bind(grads),
        dres: o.tensor(BT * C, "dres"),
        dxn: o.tensor(BT * C, "dxn"),
        dtmp: o.tensor(BT * C, "dtmp"),
        dq: o.tensor(BT * QD, "dq"),
        dk: o.tensor(BT * KD, "dk"),
        dv: o.tensor(BT * KD, "dv"),
        dqr: o.tensor(BT * QD, "dqr"),
        dkr: o.tensor(BT * KD, "dkr"),
        datt: o.tensor(BT * QD, "datt"),
        dh: o.tensor(BT * F, "dh"),
        dg: o.tensor(BT * F, "dg"),
        du: o.tensor(BT * F, "du"),
        dlogits: o.tensor(BT * V, "dlogits"),
      };
    }
  }

  /** Views of every named tensor inside a flat buffer of this layout. */
  private bind(flat: T) {
    const e = (name: string) => {
      const entry = this.layout.byName.get(name) as ParamEntry;
      return this.ops.view(flat, entry.offset, entry.size, name);
    };
    const layers = Array.from({ length: this.config.nLayers }, (_, l) => {
      const p = `model.layers.${l}`;
      return {
        inNorm: e(`${p}.input_layernorm.weight`), wq: e(`${p}.self_attn.q_proj.weight`),
        wk: e(`${p}.self_attn.k_proj.weight`), wv: e(`${p}.self_attn.v_proj.weight`),
        wo: e(`${p}.self_attn.o_proj.weight`), postNorm: e(`${p}.post_attention_layernorm.weight`),
        wg: e(`${p}.mlp.gate_proj.weight`), wu: e(`${p}.mlp.up_proj.weight`), wd: e(`${p}.mlp.down_proj.weight`),
      };
    });
    const wte = e("model.embed_tokens.weight");
    return { wte, final: e("model.norm.weight"), lm: this.config.tiedEmbeddings ? wte : e("lm_head.weight"), layers };
  }

  /** Uploads a batch: inputs and targets are (B,T) token ids. */
  setBatch(inputs: Uint32Array, targets: Uint32Array): void {
    const BT = this.B * this.T;
    if (inputs.length !== BT || targets.length !== BT) {
      throw new Error(`batch must hold B·T = ${BT} tokens, got ${inputs.length} inputs, ${targets.length} targets`);
    }
    const V = this.config.vocabSize;
    for (let i = 0; i < BT; i++) {
      if (inputs[i] >= V || targets[i] >= V) {
        throw new Error(`token ${Math.max(inputs[i], targets[i])} at position ${i} is outside the vocabulary of ${V}`);
      }
    }
    this.ops.write(this.tokens, inputs);
    this.ops.write(this.targets, targets);
    const index = embeddingIndex(inputs, V);
    this.ops.write(this.rowStart, index.rowStart);
    this.ops.write(this.positions, index.positions);
  }

  /** Forward pass of the current batch; per-token losses end in `losses` (BT). Returns the logits. */
  forward(): T {
    const o = this.ops, c = this.config, BT = this.B * this.T, C = c.dModel, V = c.vocabSize;
    o.embeddingForward(this.acts[0].x, this.tokens, this.p.wte, BT, C);
    for (let l = 0; l < c.nLayers; l++) {
      this.#layerForward(l);
      const a = this.acts[l], F = c.ffnHidden;
      const next = l + 1 < c.nLayers ? this.acts[l + 1].x : this.xFinal;
      // The down projection only feeds this residual: a recomputed layer does not need it.
      o.matmul(a.mo, a.h, this.p.layers[l].wd, { M: BT, N: C, K: F, transB: true }); // mo: (BT, C)
      o.residualForward(next, a.x2, a.mo, BT * C);
    }
    this.#scratchLayer = c.nLayers - 1;
    o.rmsnormForward(this.xfn, this.rstdF, this.xFinal, this.p.final, BT, C, c.normEps);
    o.matmul(this.logits, this.xfn, this.p.lm, { M: BT, N: V, K: C, transB: true }); // logits: (BT, V)
    o.crossEntropyForward(this.losses, this.logits, this.targets, BT, V);
    return this.logits;
  }

  /**
   * Layer `l` from its input `x` up to the MLP's activation `h` (not the down projection and the
   * last residual, which write the next layer's input): every activation its backward reads.
   */
  #layerForward(l: number): void {
    const o = this.ops, c = this.config, B = this.B, T = this.T, BT = B * T, C = c.dModel;
    const NH = c.nHeads, NKV = c.nKvHeads, D = C / NH, F = c.ffnHidden;
    const a = this.acts[l], w = this.p.layers[l];
    o.rmsnormForward(a.xn, a.rstd, a.x, w.inNorm, BT, C, c.normEps);
    o.matmul(a.q, a.xn, w.wq, { M: BT, N: NH * D, K: C, transB: true }); // q: (BT, NH·D)
    o.matmul(a.k, a.xn, w.wk, { M: BT, N: NKV * D, K: C, transB: true }); // k: (BT, NKV·D)
    o.matmul(a.v, a.xn, w.wv, { M: BT, N: NKV * D, K: C, transB: true });
    o.ropeForward(a.qr, a.q, this.rope, B, T, NH, D);
    o.ropeForward(a.kr, a.k, this.rope, B, T, NKV, D);
    o.attentionForward(a.att, a.lse, a.qr, a.kr, a.v, B, T, NH, NKV, D);
    o.matmul(a.ao, a.att, w.wo, { M: BT, N: C, K: NH * D, transB: true });
    o.residualForward(a.x2, a.x, a.ao, BT * C);
    o.rmsnormForward(a.xn2, a.rstd2, a.x2, w.postNorm, BT, C, c.normEps);
    o.matmul(a.g, a.xn2, w.wg, { M: BT, N: F, K: C, transB: true }); // g: (BT, F)
    o.matmul(a.u, a.xn2, w.wu, { M: BT, N: F, K: C, transB: true });
    o.swigluForward(a.h, a.g, a.u, BT * F);
  }

  /** The gradients, in the parameters' layout (a forward-only model has none). */
  get grads(): T {
    return this.#backward().grads;
  }

  #backward(): BackwardBuffers<T> {
    if (this.#bwd === null) throw new Error("a forward-only model has no gradients or backward pass");
    return this.#bwd;
  }

  /** Backward pass of the mean loss; gradients are accumulated (+=) into `grads`. */
  backward(): void {
    const b = this.#backward();
    const o = this.ops, c = this.config, B = this.B, T = this.T, BT = B * T, C = c.dModel;
    const NH = c.nHeads, NKV = c.nKvHeads, D = C / NH, F = c.ffnHidden, V = c.vocabSize;
    o.crossEntropyBackward(b.dlogits, this.logits, this.targets, BT, V, 1 / BT);
    o.matmul(b.g.lm, b.dlogits, this.xfn, { M: V, N: C, K: BT, transA: true, accumulate: true }); // dWlm += dlogitsᵀ·xfn
    o.matmul(b.dxn, b.dlogits, this.p.lm, { M: BT, N: C, K: V }); // dxfn = dlogits·Wlm
    o.rmsnormBackward(b.dres, b.g.final, b.dxn, this.xFinal, this.p.final, this.rstdF, BT, C);
    for (let l = c.nLayers - 1; l >= 0; l--) {
      if (this.recompute && this.#scratchLayer !== l) this.#layerForward(l);
      this.#scratchLayer = l;
      const a = this.acts[l], w = this.p.layers[l], gw = b.g.layers[l];
      // MLP branch: x3 = x2 + down(swiglu(gate(xn2), up(xn2))); dres holds dx3.
      o.matmul(gw.wd, b.dres, a.h, { M: C, N: F, K: BT, transA: true, accumulate: true });
      o.matmul(b.dh, b.dres, w.wd, { M: BT, N: F, K: C });
      o.swigluBackward(b.dg, b.du, b.dh, a.g, a.u, BT * F);
      o.matmul(gw.wg, b.dg, a.xn2, { M: F, N: C, K: BT, transA: true, accumulate: true });
      o.matmul(gw.wu, b.du, a.xn2, { M: F, N: C, K: BT, transA: true, accumulate: true });
      o.matmul(b.dxn, b.dg, w.wg, { M: BT, N: C, K: F });
      o.matmul(b.dxn, b.du, w.wu, { M: BT, N: C, K: F, accumulate: true });
      o.rmsnormBackward(b.dtmp, gw.postNorm, b.dxn, a.x2, w.postNorm, a.rstd2, BT, C);
      o.accumulate(b.dres, b.dtmp, BT * C); // dres = dx2
      // Attention branch: x2 = x + o(attn(rope(q(xn)), rope(k(xn)), v(xn))).
      o.matmul(gw.wo, b.dres, a.att, { M: C, N: NH * D, K: BT, transA: true, accumulate: true });
      o.matmul(b.datt, b.dres, w.wo, { M: BT, N: NH * D, K: C });
      o.attentionBackward(b.dqr, b.dkr, b.dv, b.datt, a.qr, a.kr, a.v, a.att, a.lse, B, T, NH, NKV, D);
      o.ropeBackward(b.dq, b.dqr, this.rope, B, T, NH, D);
      o.ropeBackward(b.dk, b.dkr, this.rope, B, T, NKV, D);
      o.matmul(gw.wq, b.dq, a.xn, { M: NH * D, N: C, K: BT, transA: true, accumulate: true });
      o.matmul(gw.wk, b.dk, a.xn, { M: NKV * D, N: C, K: BT, transA: true, accumulate: true });
      o.matmul(gw.wv, b.dv, a.xn, { M: NKV * D, N: C, K: BT, transA: true, accumulate: true });
      o.matmul(b.dxn, b.dq, w.wq, { M: BT, N: C, K: NH * D });
      o.matmul(b.dxn, b.dk, w.wk, { M: BT, N: C, K: NKV * D, accumulate: true });
      o.matmul(b.dxn, b.dv, w.wv, { M: BT, N: C, K: NKV * D, accumulate: true });
      o.rmsnormBackward(b.dtmp, gw.inNorm, b.dxn, a.x, w.inNorm, a.rstd, BT, C);
      o.accumulate(b.dres, b.dtmp, BT * C); // dres = dx
    }
    o.embeddingBackward(b.g.wte, b.dres, this.rowStart, this.positions, V, C);
  }

  /** Mean loss over the batch (reads the per-token losses back). */
  async meanLoss(): Promise<number> {
    const l = await this.ops.read(this.losses);
    let s = 0;
    for (let i = 0; i < l.length; i++) s += l[i];
    return s / l.length;
  }
}

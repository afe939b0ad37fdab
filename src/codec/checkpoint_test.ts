import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { Rng } from "../util/rng.ts";
import { presetConfig } from "../model/config.ts";
import { initParams } from "../model/init.ts";
import { paramLayout } from "../model/params.ts";
import {
  CHECKPOINT_FORMAT,
  CheckpointError,
  type CheckpointMeta,
  decodeCheckpoint,
  encodeCheckpoint,
  ERROR_FEEDBACK_TENSOR,
} from "./checkpoint.ts";
import { hex } from "../util/hex.ts";
import { modelHash } from "./model_hash.ts";
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from "./safetensors.ts";

const config = presetConfig("tiny");
const layout = paramLayout(config);
const params = initParams(layout, config, 11);
const meta: CheckpointMeta = {
  runId: hex(new Uint8Array(32).map((_, i) => (i * 37 + 5) & 0xff)),
  window: 12,
  modelHash: hex(await modelHash(params)),
};

async function rejects(p: () => Promise<unknown>, message: string): Promise<void> {
  try {
    await p();
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw new Error(`expected CheckpointError, got ${e}`);
    assert(e.message.includes(message), `expected message with "${message}", got "${e.message}"`);
    return;
  }
  throw new Error("expected CheckpointError, nothing was thrown");
}

/** The model's tensors as the checkpoint stores them, for hand-made variants. */
function modelTensors(): NamedTensor[] {
  return layout.entries.map((e) => ({
    name: e.name,
    shape: [...e.shape],
    data: params.slice(e.offset, e.offset + e.size),
  }));
}

function metadataOf(m: CheckpointMeta = meta): Record<string, string> {
  return {
    format: CHECKPOINT_FORMAT,
    runId: m.runId,
    window: String(m.window),
    modelHash: m.modelHash,
  };
}

function decode(bytes: Uint8Array, expected?: Partial<CheckpointMeta>) {
  return decodeCheckpoint(bytes, layout.entries, layout.length, expected);
}

function bitsOf(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

Deno.test("encodeCheckpoint round trip is bit-exact with the tiny preset", async () => {
  const bytes = encodeCheckpoint(layout.entries, params, meta);
  const got = await decode(bytes, meta);
  assertEquals(bitsOf(got.params), bitsOf(params));
  assertEquals(got.meta, meta);
  assertEquals(got.extra, []);
  // A plain safetensors file under the Hugging Face names.
  const file = decodeSafetensors(bytes);
  assertEquals(file.tensors.map((t) => t.name), layout.entries.map((e) => e.name));
  assertEquals(file.metadata, metadataOf());
});

Deno.test("decodeCheckpoint restores padding as zeros, inside the model hash", async () => {
  const padded = new Float32Array(layout.length + 64);
  padded.set(params);
  const m = { ...meta, modelHash: hex(await modelHash(padded)) };
  assert(m.modelHash !== meta.modelHash, "the padding is part of the hash");
  const bytes = encodeCheckpoint(layout.entries, padded, m);
  assertEquals(bytes.length, encodeCheckpoint(layout.entries, params, meta).length);
  const got = await decodeCheckpoint(bytes, layout.entries, padded.length, m);
  assertEquals(bitsOf(got.params), bitsOf(padded));
  await rejects(() => decode(bytes), "checkpoint: corrupted");
});

Deno.test("encodeCheckpoint keeps negative zero and returns extra tensors", async () => {
  const p = params.slice();
  const first = layout.entries[0];
  p[first.offset] = -0;
  const ef = new Rng(3).normals(layout.length, 0.01);
  const note: NamedTensor = { name: "webloco.note", shape: [2], data: new Float32Array([1, 2]) };
  const m = { ...meta, window: 0, modelHash: hex(await modelHash(p)) };
  const bytes = encodeCheckpoint(layout.entries, p, m, [
    { name: ERROR_FEEDBACK_TENSOR, shape: [layout.length], data: ef },
    note,
  ]);
  const got = await decode(bytes, { window: 0 });
  assert(Object.is(got.params[first.offset], -0), "negative zero");
  assertEquals(bitsOf(got.params), bitsOf(p));
  assertEquals(got.meta, m);
  assertEquals(got.extra.map((t) => [t.name, t.shape]), [
    [ERROR_FEEDBACK_TENSOR, [layout.length]],
    ["webloco.note", [2]],
  ]);
  assertEquals(got.extra[0].data, ef);
  assertEquals(got.extra[1].data, note.data);
});

Deno.test("encodeCheckpoint rejects a wrong hash, padding, meta and extra names", () => {
  const enc = (
    message: string,
    m: CheckpointMeta = meta,
    p = params,
    extra: NamedTensor[] = [],
    entries = layout.entries,
  ) => assertThrows(() => encodeCheckpoint(entries, p, m, extra), CheckpointError, message);
  enc("checkpoint: meta.modelHash " + "0".repeat(64) + " is not the hash of the parameters", {
    ...meta,
    modelHash: "0".repeat(64),
  });
  // The tiny layout has no padding of its own: add 64 elements at the end.
  const padded = new Float32Array(layout.length + 64);
  padded.set(params);
  padded[layout.length + 3] = -0;
  enc(`checkpoint: padding element ${layout.length + 3} is not +0 (bits 0x80000000)`, meta, padded);
  enc("checkpoint: runId must be 64 lower-case hex digits", { ...meta, runId: "AB" });
  enc("runId must be 64", { ...meta, runId: meta.runId.toUpperCase() });
  enc("checkpoint: window must be a non-negative integer, got -1", { ...meta, window: -1 });
  enc("window must be a non-negative integer, got 1.5", { ...meta, window: 1.5 });
  enc("checkpoint: modelHash must be 64 lower-case hex digits", { ...meta, modelHash: "" });
  const one = (name: string, n = 1) => ({ name, shape: [n], data: new Float32Array(n) });
  enc('checkpoint: extra tensor "ef" must be named "webloco.…"', meta, params, [one("ef")]);
  enc(
    `checkpoint: ${ERROR_FEEDBACK_TENSOR} has shape [3], expected [${layout.length}]`,
    meta,
    params,
    [one(ERROR_FEEDBACK_TENSOR, 3)],
  );
  enc('tensor "webloco.x" appears twice', meta, params, [one("webloco.x"), one("webloco.x")]);
  const bad = [{ ...layout.entries[0], name: "webloco.embed" }, ...layout.entries.slice(1)];
  enc('checkpoint: layout tensor "webloco.embed" uses the extra prefix', meta, params, [], bad);
  enc("checkpoint: layout: tensor", meta, params.subarray(0, 100));
});

Deno.test("decodeCheckpoint rejects a corrupted tensor byte", async () => {
  const bytes = encodeCheckpoint(layout.entries, params, meta);
  // The last bytes are the final norm's gains; a low mantissa bit keeps the file well-formed.
  bytes[bytes.length - 4] ^= 1;
  await rejects(() => decode(bytes), "checkpoint: corrupted: the tensors hash to ");
  await rejects(() => decode(bytes), `the metadata says ${meta.modelHash}`);
});

Deno.test("decodeCheckpoint rejects missing, unknown and misshapen tensors", async () => {
  const tensors = modelTensors();
  const file = (ts: NamedTensor[]) => encodeSafetensors(ts, metadataOf());
  await rejects(
    () => decode(file(tensors.filter((t) => t.name !== "model.norm.weight"))),
    'checkpoint: tensor "model.norm.weight" is missing',
  );
  await rejects(
    () =>
      decode(file([...tensors, { name: "lm_head.weight", shape: [1], data: new Float32Array(1) }])),
    'checkpoint: unknown tensor "lm_head.weight"',
  );
  const reshaped = tensors.map((t) =>
    t.name === "model.norm.weight" ? { ...t, shape: [8, config.dModel / 8] } : t
  );
  await rejects(
    () => decode(file(reshaped)),
    `checkpoint: tensor "model.norm.weight" has shape [8,8], expected [${config.dModel}]`,
  );
  const ef = { name: ERROR_FEEDBACK_TENSOR, shape: [2], data: new Float32Array(2) };
  await rejects(
    () => decode(file([...tensors, ef])),
    `checkpoint: ${ERROR_FEEDBACK_TENSOR} has shape [2], expected [${layout.length}]`,
  );
  // Hand-made but complete and consistent: accepted, in any tensor order.
  const got = await decode(file(tensors.slice().reverse()));
  assertEquals(bitsOf(got.params), bitsOf(params));
});

Deno.test("decodeCheckpoint rejects bad or missing metadata", async () => {
  const tensors = modelTensors();
  const withMeta = (change: Record<string, string | undefined>) => {
    const m: Record<string, string> = { ...metadataOf() };
    for (const [k, v] of Object.entries(change)) {
      if (v === undefined) delete m[k];
      else m[k] = v;
    }
    return encodeSafetensors(tensors, m);
  };
  await rejects(
    () => decode(encodeSafetensors(tensors)),
    'checkpoint: metadata "format" is missing',
  );
  await rejects(
    () => decode(withMeta({ format: "pt" })),
    'checkpoint: format "pt" is not "webloco-checkpoint/1"',
  );
  await rejects(() => decode(withMeta({ runId: undefined })), 'metadata "runId" is missing');
  await rejects(
    () => decode(withMeta({ runId: meta.runId.toUpperCase() })),
    'checkpoint: metadata "runId" is not 64 lower-case hex digits',
  );
  for (const w of ["012", "-1", "1.0", "", " 1", "1e3", "99999999999999999999"]) {
    await rejects(
      () => decode(withMeta({ window: w })),
      `checkpoint: metadata "window" ${JSON.stringify(w)} is not an integer`,
    );
  }
  await rejects(
    () => decode(withMeta({ modelHash: undefined })),
    'metadata "modelHash" is missing',
  );
  await rejects(
    () => decode(withMeta({ modelHash: meta.modelHash.slice(1) })),
    'checkpoint: metadata "modelHash" is not 64 lower-case hex digits',
  );
  // Other metadata is ignored.
  const got = await decode(withMeta({ note: "hello" }));
  assertEquals(got.meta, meta);
});

Deno.test("decodeCheckpoint rejects the wrong run, window or model", async () => {
  const bytes = encodeCheckpoint(layout.entries, params, meta);
  const other = "ab".repeat(32);
  await rejects(
    () => decode(bytes, { runId: other }),
    `checkpoint: wrong run: checkpoint of run ${meta.runId}, expected ${other}`,
  );
  await rejects(
    () => decode(bytes, { window: 13 }),
    "checkpoint: wrong window: checkpoint of window 12, expected 13",
  );
  await rejects(
    () => decode(bytes, { modelHash: other }),
    `checkpoint: wrong model: checkpoint of model ${meta.modelHash}, expected ${other}`,
  );
  assertEquals((await decode(bytes, { runId: meta.runId, window: 12 })).meta, meta);
});

Deno.test("decodeCheckpoint wraps safetensors errors and checks its layout", async () => {
  const bytes = encodeCheckpoint(layout.entries, params, meta);
  await rejects(
    () => decode(bytes.subarray(0, 7)),
    "safetensors: file is 7 bytes, shorter than the 8-byte header length",
  );
  await rejects(() => decode(bytes.subarray(0, bytes.length - 1)), "safetensors: tensor");
  let error: unknown;
  try {
    await decodeCheckpoint(bytes, layout.entries, 10);
  } catch (e) {
    error = e;
  }
  assert(error instanceof RangeError, `a layout that does not fit is a RangeError: ${error}`);
  error = undefined;
  try {
    await decodeCheckpoint(bytes, [layout.entries[0], layout.entries[0]], layout.length);
  } catch (e) {
    error = e;
  }
  assert(error instanceof RangeError, `overlapping layout entries: ${error}`);
});

Deno.test("decodeCheckpoint throws only CheckpointError on 2000 mutated files", async () => {
  const rng = new Rng(99);
  const ef = rng.normals(layout.length, 0.01);
  const valid = encodeCheckpoint(layout.entries, params, meta, [
    { name: ERROR_FEEDBACK_TENSOR, shape: [layout.length], data: ef },
  ]);
  const n = new DataView(valid.buffer).getUint32(0, true);
  let accepted = 0;
  for (let iter = 0; iter < 2000; iter++) {
    let bytes = valid.slice();
    const kind = rng.int(4);
    if (kind === 0) bytes[rng.int(bytes.length)] ^= 1 << rng.int(8);
    else if (kind === 1) bytes[8 + rng.int(n)] = rng.int(128);
    else if (kind === 2) bytes = bytes.slice(0, rng.int(bytes.length));
    else bytes[8 + n + rng.int(bytes.length - 8 - n)] = rng.int(256);
    try {
      const got = await decode(bytes);
      accepted++;
      // Whatever else changed, an accepted file holds exactly the model it names.
      assertEquals(bitsOf(got.params), bitsOf(params), `iteration ${iter}`);
    } catch (e) {
      if (!(e instanceof CheckpointError)) {
        throw new Error(`iteration ${iter}: ${(e as Error)?.name}: ${(e as Error)?.message}`);
      }
    }
  }
  assert(accepted < 1000, `accepted ${accepted}`);
});

/**
 * Wallet delegation: a wallet (a Polkadot-js style browser extension, or any sr25519 key)
 * signs once that a session key may speak for it in one run for a while; the session key then
 * signs every gossip message, each carrying the delegation, and credit accrues to the wallet.
 * The wallet's secret never leaves the extension and is asked for one signature per session,
 * not one per message. Runtime-neutral (no `Deno.*`, no DOM).
 *
 * What the wallet signs is text, so that the extension shows the volunteer what they agree
 * to (extensions sign raw bytes wrapped in `<Bytes>…</Bytes>`, which {@linkcode verify}
 * accepts):
 *
 * ```
 * webloco delegation v1
 * run 3f2a…(64 hex digits)
 * session key 5F…
 * wallet 5G…
 * valid from 2026-12-01T12:00:00.000Z until 2026-12-02T12:00:00.000Z
 * ```
 *
 * On the wire (src/codec/messages.ts carries it between the body and the signature) the
 * delegation is 112 bytes; the run id and the session key are the message's own, so a
 * delegation cannot be moved to another run or key:
 *
 * ```
 *   0  wallet        32 bytes (sr25519 public key)
 *  32  valid from    u64 (ms since the epoch, < 2^53)
 *  40  valid until   u64 (ms)
 *  48  signature     64 bytes: the wallet's, of the text above
 * ```
 *
 * @module
 */

import { addressFromPublicKey } from "./address.ts";
import { type Signer, verify } from "./signer.ts";
import { hex } from "../util/hex.ts";

/** Bytes of an encoded delegation. */
export const DELEGATION_BYTES = 112;

/**
 * Longest validity a delegation may claim. A stolen session key (it lives in a browser's
 * IndexedDB) speaks for the wallet at most this long.
 */
export const MAX_DELEGATION_MS = 30 * 24 * 3600_000;

/** Default validity of a new delegation: a day, a volunteer's session with margin. */
export const DEFAULT_DELEGATION_MS = 24 * 3600_000;

/** A decoded delegation (the run id and session key come from the message carrying it). */
export interface Delegation {
  /** The wallet's sr25519 public key. */
  wallet: Uint8Array;
  /** First valid instant (ms since the epoch). */
  validFrom: number;
  /** Last valid instant (ms). */
  validUntil: number;
  /** The wallet's signature of {@linkcode delegationText}. */
  signature: Uint8Array;
}

/** Why a delegation was refused: forged or malformed, or out of its validity. */
export type DelegationReason = "bad-delegation" | "expired-delegation";

/** The outcome of {@linkcode checkDelegation}. */
export type DelegationResult =
  | { ok: true; wallet: string; delegation: Delegation }
  | { ok: false; reason: DelegationReason; detail: string };

/** The text a wallet signs to delegate `session` in `runId` from `validFrom` to `validUntil`. */
export function delegationText(
  runId: Uint8Array,
  session: Uint8Array,
  wallet: Uint8Array,
  validFrom: number,
  validUntil: number,
): Uint8Array {
  const when = (ms: number) => new Date(ms).toISOString();
  return new TextEncoder().encode(
    `webloco delegation v1\nrun ${hex(runId)}\nsession key ${addressFromPublicKey(session)}\n` +
      `wallet ${addressFromPublicKey(wallet)}\nvalid from ${when(validFrom)} until ${
        when(validUntil)
      }\n`,
  );
}

function checkTimes(validFrom: number, validUntil: number): string | null {
  const ok = (t: number) => Number.isSafeInteger(t) && t >= 0 && t < 8.64e15;
  if (!ok(validFrom) || !ok(validUntil)) return "validity times must be integer ms since the epoch";
  if (validUntil < validFrom) return "valid until is before valid from";
  if (validUntil - validFrom > MAX_DELEGATION_MS) {
    return `valid for ${Math.round((validUntil - validFrom) / 3600_000)} h, at most ${
      MAX_DELEGATION_MS / 3600_000
    } h`;
  }
  return null;
}

/** The 112 bytes of `d`; throws RangeError for bad lengths or times (a caller's bug). */
export function encodeDelegation(d: Delegation): Uint8Array {
  if (d.wallet?.length !== 32 || d.signature?.length !== 64) {
    throw new RangeError("a delegation needs a 32-byte wallet key and a 64-byte signature");
  }
  const bad = checkTimes(d.validFrom, d.validUntil);
  if (bad !== null) throw new RangeError(`delegation: ${bad}`);
  const out = new Uint8Array(DELEGATION_BYTES);
  const v = new DataView(out.buffer);
  out.set(d.wallet, 0);
  v.setBigUint64(32, BigInt(d.validFrom), true);
  v.setBigUint64(40, BigInt(d.validUntil), true);
  out.set(d.signature, 48);
  return out;
}

/** Decodes 112 bytes; null when the length or the times are not a delegation's. */
export function decodeDelegation(bytes: Uint8Array): Delegation | null {
  if (!(bytes instanceof Uint8Array) || bytes.length !== DELEGATION_BYTES) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const validFrom = Number(v.getBigUint64(32, true));
  const validUntil = Number(v.getBigUint64(40, true));
  if (checkTimes(validFrom, validUntil) !== null) return null;
  return {
    wallet: bytes.slice(0, 32),
    validFrom,
    validUntil,
    signature: bytes.slice(48, 112),
  };
}

/**
 * Checks the delegation carried by a message of `runId` signed by `session` at time `now`
 * (omit `now` to check the signature only, e.g. replaying old messages). Never throws.
 */
export function checkDelegation(
  bytes: Uint8Array,
  runId: Uint8Array,
  session: Uint8Array,
  now?: number,
): DelegationResult {
  const d = decodeDelegation(bytes);
  if (d === null) {
    return { ok: false, reason: "bad-delegation", detail: "not a delegation (length or times)" };
  }
  const wallet = addressFromPublicKey(d.wallet);
  if (now !== undefined && now > d.validUntil) {
    return {
      ok: false,
      reason: "expired-delegation",
      detail: `${wallet}'s delegation ended at ${new Date(d.validUntil).toISOString()}`,
    };
  }
  if (now !== undefined && now < d.validFrom) {
    return {
      ok: false,
      reason: "expired-delegation",
      detail: `${wallet}'s delegation starts at ${new Date(d.validFrom).toISOString()}`,
    };
  }
  const key = `${hex(runId)}${hex(session)}${hex(bytes)}`;
  const text = delegationText(runId, session, d.wallet, d.validFrom, d.validUntil);
  if (!VERIFIED.has(key) && !verify(text, d.signature, d.wallet)) {
    return {
      ok: false,
      reason: "bad-delegation",
      detail: `not signed by ${wallet} for this run and session key ${
        addressFromPublicKey(session)
      }`,
    };
  }
  VERIFIED.add(key);
  if (VERIFIED.size > MAX_VERIFIED) VERIFIED.delete(VERIFIED.values().next().value!);
  return { ok: true, wallet, delegation: d };
}

/**
 * Delegations whose signature verified (run ‖ session ‖ bytes, hex): every message of a
 * session carries the same delegation, so a node verifies the wallet's signature once per
 * session, not once per message. Only successes are kept; the oldest go first.
 */
const VERIFIED = new Set<string>();
const MAX_VERIFIED = 4096;

/** What {@linkcode createDelegation} needs. */
export interface DelegationRequest {
  /** The run (32 bytes). */
  runId: Uint8Array;
  /** The session key's public key. */
  session: Uint8Array;
  /** The wallet's public key. */
  wallet: Uint8Array;
  /** Validity (ms since the epoch). */
  validFrom: number;
  validUntil: number;
  /**
   * Signs the text with the wallet: an extension's `signRaw` (which wraps it in `<Bytes>`), or
   * a {@linkcode Signer}'s `sign`.
   */
  sign: (text: Uint8Array) => Promise<Uint8Array>;
}

/** Asks the wallet for its one signature and returns the encoded delegation. */
export async function createDelegation(r: DelegationRequest): Promise<Uint8Array> {
  const text = delegationText(r.runId, r.session, r.wallet, r.validFrom, r.validUntil);
  const signature = await r.sign(text);
  const bytes = encodeDelegation({
    wallet: r.wallet,
    validFrom: r.validFrom,
    validUntil: r.validUntil,
    signature,
  });
  // A wallet that signed something else (another account, a refusal as garbage) fails here,
  // not on every node.
  const check = checkDelegation(bytes, r.runId, r.session);
  if (!check.ok) throw new RangeError(`the wallet's signature does not verify: ${check.detail}`);
  return bytes;
}

/**
 * A session key speaking for a wallet: signs as the session key, and its `delegation` rides
 * in every message it signs (src/codec/messages.ts).
 */
export class DelegatedSigner implements Signer {
  /** The session key's address (the messages' sender). */
  readonly address: string;
  /** The session key. */
  readonly publicKey: Uint8Array;
  /** The wallet's address: credit accrues to it. */
  readonly wallet: string;
  /** When the delegation ends (ms). */
  readonly validUntil: number;

  /** Throws RangeError when `delegation` is not a valid one of `session` in `runId`. */
  constructor(
    private readonly session: Signer,
    readonly delegation: Uint8Array,
    runId: Uint8Array,
  ) {
    const check = checkDelegation(delegation, runId, session.publicKey);
    if (!check.ok) throw new RangeError(`${check.reason}: ${check.detail}`);
    this.address = session.address;
    this.publicKey = session.publicKey;
    this.wallet = check.wallet;
    this.validUntil = check.delegation.validUntil;
  }

  /** Signs with the session key. */
  sign(message: Uint8Array): Promise<Uint8Array> {
    return this.session.sign(message);
  }
}

/**
 * Session address → wallet address, as learned from verified messages: what the credit table
 * keys credit by (src/protocol/credit.ts). A session key maps to the one wallet that first
 * delegated it (a second wallet claiming the same key would need the key's own signature on a
 * message with its delegation, i.e. the key holder's consent, so first wins).
 */
export class WalletBook {
  readonly #owners = new Map<string, string>();

  /** Notes that `session` speaks for the wallet of `delegation` (already checked). */
  note(session: string, delegation: Uint8Array): void {
    const d = decodeDelegation(delegation);
    if (d !== null && !this.#owners.has(session)) {
      this.#owners.set(session, addressFromPublicKey(d.wallet));
    }
  }

  /** The wallet `address` speaks for, or `address` itself. */
  ownerOf = (address: string): string => this.#owners.get(address) ?? address;
}

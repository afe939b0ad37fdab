/**
 * "Connect wallet" on the volunteer page: a Polkadot-js style extension (through
 * `@polkadot/extension-dapp`, the maintained client of `window.injectedWeb3`) signs once a
 * delegation (src/identity/delegation.ts) to a session key this page generates; the worker's
 * peer then signs every message with the session key and credit accrues to the wallet. The
 * wallet's secret stays in the extension; the session key and its delegation are kept in the
 * profile's IndexedDB (`identity/wallet-<run>.json`), so a reload does not ask the wallet again
 * until the delegation ends.
 *
 * @module
 */
import { web3Accounts, web3Enable, web3FromSource } from "@polkadot/extension-dapp";
import { hexToU8a, u8aToHex } from "@polkadot/util";
import { mnemonicGenerate } from "@polkadot/util-crypto";
import {
  checkDelegation,
  createDelegation,
  DEFAULT_DELEGATION_MS,
} from "../src/identity/delegation.ts";
import { publicKeyFromAddress } from "../src/identity/address.ts";
import { KeySigner } from "../src/identity/key_signer.ts";
import type { StateStore } from "../src/protocol/state_store.ts";
import { walletFile, type WalletSession } from "../workers/peer_protocol.ts";

/** The name the page gives itself to extensions (shown in their "allow access" prompt). */
const APP_NAME = "webloco";

/** Clock skew allowed at the start of a new delegation (nodes accept messages ±60 s). */
const START_SLACK_MS = 60_000;

/**
 * The kept session of this run, if it is still valid for at least `marginMs` (a delegation
 * that ends mid-window would get the tab's last update refused).
 */
export async function keptWalletSession(
  ids: StateStore,
  runIdHex: string,
  marginMs = 10 * 60_000,
): Promise<WalletSession | null> {
  const bytes = await ids.get(walletFile(runIdHex));
  if (bytes === null) return null;
  try {
    const s = JSON.parse(new TextDecoder().decode(bytes)) as WalletSession;
    const session = KeySigner.fromMnemonic(s.session.mnemonic);
    const ok = s.runId === runIdHex && session.address === s.session.address &&
      checkDelegation(hexToU8a(s.delegation), hexToU8a(runIdHex), session.publicKey, Date.now())
        .ok;
    return ok && s.validUntil > Date.now() + marginMs ? s : null;
  } catch {
    return null; // a damaged file: connect again
  }
}

/** A wallet connection that did not happen, with the message for the volunteer. */
export class WalletError extends Error {
  /** "WalletError". */
  override name = "WalletError";
}

/**
 * Asks the extension(s) for access and an account, generates a session key, has the wallet
 * sign the delegation (one prompt) and keeps the result in `ids`. `pick` chooses among several
 * accounts (default: the first).
 */
export async function connectWallet(
  ids: StateStore,
  runIdHex: string,
  pick: (addresses: string[]) => number = () => 0,
): Promise<WalletSession> {
  const extensions = await web3Enable(APP_NAME);
  if (extensions.length === 0) {
    throw new WalletError(
      "no wallet extension answered (none installed, or access was refused): install one " +
        "such as polkadot{.js}, or use a key kept in this browser",
    );
  }
  // The delegation is an sr25519 signature: ed25519 and ethereum accounts cannot give one.
  const accounts = (await web3Accounts()).filter((a) => (a.type ?? "sr25519") === "sr25519");
  if (accounts.length === 0) {
    throw new WalletError(
      `the wallet (${extensions.map((e) => e.name).join(", ")}) has no sr25519 account to share`,
    );
  }
  const account = accounts[pick(accounts.map((a) => a.address))] ?? accounts[0];
  const injector = await web3FromSource(account.meta.source);
  const signRaw = injector.signer.signRaw;
  if (signRaw === undefined) {
    throw new WalletError(`the wallet ${account.meta.source} cannot sign raw messages`);
  }
  const mnemonic = mnemonicGenerate(12);
  const session = KeySigner.fromMnemonic(mnemonic);
  const now = Date.now();
  const validFrom = now - START_SLACK_MS;
  const validUntil = now + DEFAULT_DELEGATION_MS;
  let delegation: Uint8Array;
  try {
    delegation = await createDelegation({
      runId: hexToU8a(runIdHex),
      session: session.publicKey,
      wallet: publicKeyFromAddress(account.address),
      validFrom,
      validUntil,
      sign: async (text) => {
        const r = await signRaw({ address: account.address, data: u8aToHex(text), type: "bytes" });
        return hexToU8a(r.signature);
      },
    });
  } catch (e) {
    throw new WalletError(
      `the wallet did not sign the delegation: ${(e as Error)?.message ?? String(e)}`,
    );
  }
  const kept: WalletSession = {
    version: 1,
    runId: runIdHex,
    wallet: account.address,
    source: account.meta.source,
    session: { version: 1, type: "sr25519", address: session.address, mnemonic },
    delegation: u8aToHex(delegation),
    validUntil,
  };
  await ids.put(walletFile(runIdHex), new TextEncoder().encode(JSON.stringify(kept, null, 2)));
  return kept;
}

/**
 * Chain-backed participation, behind one interface: who may take part, when windows open,
 * and where each round's credit goes. The embedded default is the validator's signed record
 * chain itself (anyone with a key may take part; the credit table travels in every signed
 * round record; the clock is the genesis time). A Subtensor/Substrate adapter implements the
 * same three parts against a chain (docs/CHAIN.md says which calls it must make).
 *
 * @module
 */

import type { Credit } from "./credit.ts";
import type { WindowClock } from "./window_clock.ts";

/** Whether a key may take part, and under which on-chain identity. */
export interface Registration {
  /** SS58 address of the key. */
  address: string;
  /** The chain's handle for it (a Subtensor UID), or null where there is none. */
  uid: number | null;
}

/** What a run needs from the place that holds registrations and credit. */
export interface Participation {
  /** Which window is open when. */
  readonly clock: WindowClock;
  /** The registration of `address`, or null when it may not take part. */
  registration(address: string): Promise<Registration | null>;
  /**
   * Makes window `window`'s credit official. Called by the validator after its round record
   * is signed and kept; the record already carries the table, so a run without a chain needs
   * nothing more.
   */
  publishCredit(window: number, credit: readonly Credit[]): Promise<void>;
}

/** The embedded default: every key may take part; the signed records are the ledger. */
export class RecordChainParticipation implements Participation {
  readonly clock: WindowClock;

  constructor(clock: WindowClock) {
    this.clock = clock;
  }

  registration(address: string): Promise<Registration> {
    return Promise.resolve({ address, uid: null });
  }

  publishCredit(): Promise<void> {
    return Promise.resolve();
  }
}

// The screens' registered public keys: `<dir>/<screenId>.pub.pem`, each the PEM SPKI Ed25519 key
// a device prints with `ledagent keys show`. A key once read is kept; a screen with no key is
// looked up again on its next batch, so a screen registered while the collector runs is picked up.
import type { KeyObject } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadPublicKey } from "../crypto/index.js";

export type KeyLookup = { key: KeyObject } | { key: null; reason: string };

/** What a screen id may be (the config's rule): it names a file, so nothing else is looked up. */
export const SCREEN_ID = /^[A-Za-z0-9._-]{1,64}$/;

export interface ScreenKeySource {
  lookup(screen: string): KeyLookup;
}

export class ScreenKeys implements ScreenKeySource {
  private readonly known = new Map<string, KeyObject>();

  constructor(private readonly dir: string) {}

  keyPath(screen: string): string {
    return join(this.dir, `${screen}.pub.pem`);
  }

  lookup(screen: string): KeyLookup {
    const cached = this.known.get(screen);
    if (cached) return { key: cached };
    if (!SCREEN_ID.test(screen)) return { key: null, reason: `${JSON.stringify(screen)} is not a screen id` };
    const path = this.keyPath(screen);
    if (!existsSync(path)) return { key: null, reason: `no key registered for screen ${screen} (expected ${path})` };
    try {
      const key = loadPublicKey(path);
      this.known.set(screen, key);
      return { key };
    } catch (err) {
      return { key: null, reason: `the key registered for screen ${screen} cannot be used: ${(err as Error).message}` };
    }
  }
}

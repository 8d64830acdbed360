// The screens' registered public keys: `<dir>/<screenId>.pub.pem`, each the PEM SPKI Ed25519 key
// a device prints with `ledagent keys show`. A key is read again when its file changed (or is
// gone: a stolen screen is de-registered by removing its key, without a restart), and a screen with
// no key is looked up again on its next batch, so one registered while the collector runs is
// picked up. Key files are trusted files: anyone who could rewrite one could forge that screen.
import type { KeyObject } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadPublicKey } from "../crypto/index.js";

export type KeyLookup = { key: KeyObject } | { key: null; reason: string };

/** What a screen id may be (the config's rule): it names a file, so nothing else is looked up. */
export const SCREEN_ID = /^[A-Za-z0-9._-]{1,64}$/;

export interface ScreenKeySource {
  lookup(screen: string): KeyLookup;
}

export class ScreenKeys implements ScreenKeySource {
  private readonly known = new Map<string, { key: KeyObject; stamp: string }>();

  constructor(private readonly dir: string) {}

  keyPath(screen: string): string {
    return join(this.dir, `${screen}.pub.pem`);
  }

  lookup(screen: string): KeyLookup {
    if (!SCREEN_ID.test(screen)) return { key: null, reason: `${JSON.stringify(screen)} is not a screen id` };
    const path = this.keyPath(screen);
    const stamp = fileStamp(path);
    const cached = this.known.get(screen);
    if (cached && cached.stamp === stamp) return { key: cached.key };
    this.known.delete(screen);
    if (stamp === null || !existsSync(path)) return { key: null, reason: `no key registered for screen ${screen} (expected ${path})` };
    try {
      const key = loadPublicKey(path, { trusted: true });
      this.known.set(screen, { key, stamp });
      return { key };
    } catch (err) {
      return { key: null, reason: `the key registered for screen ${screen} cannot be used: ${(err as Error).message}` };
    }
  }
}

/** What changes when a key file is replaced or edited: one stat per batch. */
function fileStamp(path: string): string | null {
  try {
    const st = statSync(path);
    return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.mode}`;
  } catch {
    return null;
  }
}

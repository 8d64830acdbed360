// The device key (present, private, loadable, the one that began this ledger, its public half
// published beside it) and the ops public key. Read only: nothing here writes a key or a record.
import { existsSync, readFileSync, statSync } from "node:fs";
import type { KeyObject } from "node:crypto";
import type { Config } from "../config.js";
import { KeyError, keyFingerprint, loadPrivateKey, loadPublicKey, parsePublicKey, readSigningRecord, retiredKeyRecord, signingRecordPath, type KeyPair } from "../crypto/index.js";
import { agentPaths } from "../paths.js";
import { RECOVER } from "../proofs/errors.js";
import { fail, firstLine, ok, splitFix, warn, type CheckResult } from "./types.js";

const NAME = "device key";

/** The deliberate way out when the old key is gone for good: a new ledger, the old one kept. */
const NEW_LEDGER = RECOVER.replace(/^restore the database from a backup, or /, "");

/** Whether a ledger was begun under some key here: a database, or a signing record beside the key. */
function ledgerBegun(config: Pick<Config, "dataDir" | "runDir">): boolean {
  const paths = agentPaths(config);
  return existsSync(paths.database) || existsSync(signingRecordPath(paths.deviceKey));
}

function loadFailure(err: KeyError, path: string, begun: boolean): CheckResult {
  const message = firstLine(err);
  const { detail, fix } = splitFix(message);
  if (/^no device key/.test(message)) {
    return fail(
      NAME,
      `no device key at ${path}`,
      begun
        ? `restore ${path} (and ${signingRecordPath(path)}) from the backup: no other key can extend this ledger. Only if it is lost for good: ${NEW_LEDGER}`
        : "`ledagent keys init` creates it; then give `ledagent keys show` to ops",
    );
  }
  if (/readable by others/.test(message)) return fail(NAME, message.replace(/; run chmod 600 on it$/, ""), `chmod 600 ${path}`);
  if (fix) return fail(NAME, detail, fix);
  // Run with sudo, the doctor reads it as the agent's user: then the agent cannot read it either.
  if (/EACCES|EPERM/.test(message)) return fail(NAME, message, `the agent's user must own it (\`chown ledagent: ${path} && chmod 600 ${path}\`); run the doctor with sudo so it reads it as that user`);
  return fail(NAME, message, `restore ${path} from the backup (it is the key that signs this screen's proofs)`);
}

/** The signing record beside the key, when it belongs to another key: the key was replaced. */
function foreignRecord(keyFile: string, keys: KeyPair): string | null {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(signingRecordPath(keyFile), "utf8"));
  } catch {
    return null; // none, or damaged: readSigningRecord says which
  }
  const key = (raw as { key?: unknown }).key;
  return typeof key === "string" && key !== keyFingerprint(keys.publicKey) ? key : null;
}

function publishedKeyProblem(path: string, key: KeyObject): string | null {
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch {
    return `its public key file ${path} is missing`;
  }
  try {
    return keyFingerprint(parsePublicKey(pem, path)) === keyFingerprint(key) ? null : `${path} is not this key's public half`;
  } catch (err) {
    return firstLine(err);
  }
}

export function checkDeviceKey(config: Pick<Config, "dataDir" | "runDir">): CheckResult {
  const paths = agentPaths(config);
  let keys: KeyPair;
  try {
    keys = loadPrivateKey(paths.deviceKey);
  } catch (err) {
    if (!(err instanceof KeyError)) throw err;
    return loadFailure(err, paths.deviceKey, ledgerBegun(config));
  }
  const fingerprint = keyFingerprint(keys.publicKey);
  const retired = retiredKeyRecord(paths.deviceKey, keys.publicKey);
  if (retired) return fail(NAME, `${paths.deviceKey} was retired (${retired}) when its ledger was archived: it never signs again`, "the key change was cut short: run `ledagent init --force --new-key …` again to create the new key (the old ledger is already archived)");
  const other = foreignRecord(paths.deviceKey, keys);
  if (other) {
    return fail(
      NAME,
      `${paths.deviceKey} (fingerprint ${fingerprint.slice(0, 16)}…) is not the key that began this ledger (${signingRecordPath(paths.deviceKey)} names ${other.slice(0, 16)}…): the key was replaced`,
      `restore the device key that began the ledger from the backup, or ${NEW_LEDGER}`,
    );
  }
  let began = "";
  try {
    const record = readSigningRecord(paths.deviceKey, keys.publicKey);
    if (record?.state === "committed") began = `, began the ledger of screen ${record.screen}`;
  } catch (err) {
    return fail(NAME, firstLine(err), `restore ${signingRecordPath(paths.deviceKey)} from the backup`);
  }
  const mode = (statSync(paths.deviceKey).mode & 0o777).toString(8);
  const detail = `${paths.deviceKey} (ed25519, fingerprint ${fingerprint.slice(0, 16)}…, mode ${mode}${began})`;
  const published = publishedKeyProblem(paths.devicePublicKey, keys.publicKey);
  // The PEM beside it is what a technician hands to ops and auditors: wrong there, every
  // verification of this screen's proofs fails for them.
  if (published) return warn(NAME, `${detail}; but ${published}`, `ledagent keys show > ${paths.devicePublicKey}`);
  return ok(NAME, detail);
}

export function checkOpsKey(config: Pick<Config, "opsPublicKey">): CheckResult {
  const path = config.opsPublicKey;
  if (path === undefined) {
    return warn("ops key", "opsPublicKey is not set: no signed schedule or command can be checked, so none is applied", "set opsPublicKey in the config to the ops public key (PEM), then restart the agent");
  }
  try {
    const key = loadPublicKey(path, { trusted: true });
    return ok("ops key", `${path} (ed25519, fingerprint ${keyFingerprint(key).slice(0, 16)}…)`);
  } catch (err) {
    if (!(err instanceof KeyError)) throw err;
    const message = firstLine(err);
    const { detail, fix } = splitFix(message);
    if (fix) return fail("ops key", detail, fix);
    if (/no such file/.test(message)) return fail("ops key", message, `copy the ops public key (ops.pub.pem, from \`ledagent ops keys init\` on the ops side) to ${path}`);
    if (/PRIVATE key/.test(message)) return fail("ops key", message, `replace ${path} with the ops PUBLIC key, and remove the private key from this box: whoever holds it can steer every screen`);
    return fail("ops key", message, `replace ${path} with the ops public key (PEM, ed25519) that signs this fleet's schedules`);
  }
}

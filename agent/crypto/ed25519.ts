// Ed25519 keys and signatures over canonical JSON, with node:crypto. Key objects are loaded once
// and kept; the private key file is created 0600 and its contents never leave this module.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { closeSync, existsSync, fstatSync, openSync, readFileSync } from "node:fs";
import { writeFileDurably } from "../store/durable-file.js";
import { checkTrustedPath, readTrustedFile, TrustedFileError } from "../store/trusted-file.js";
import { canonicalBytes } from "./canonical.js";

export class KeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyError";
  }
}

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The private key's file, when it has one: the key's signing record is kept beside it. */
  file?: string;
}

export function publicKeyPem(key: KeyObject): string {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return pub.export({ type: "spki", format: "pem" }).toString();
}

/** Creates a key pair and writes the private key (PKCS#8 PEM, 0600) and the public key (SPKI PEM). */
export function createKeyFiles(privatePath: string, publicPath: string, opts: { force?: boolean } = {}): KeyPair {
  if (existsSync(privatePath) && !opts.force) {
    throw new KeyError(`a device key already exists at ${privatePath}; replacing it orphans every proof it signed (use --force to replace it anyway)`);
  }
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  writeFileDurably(privatePath, privateKey.export({ type: "pkcs8", format: "pem" }).toString(), 0o600);
  writeFileDurably(publicPath, publicKeyPem(publicKey), 0o644);
  return { privateKey, publicKey, file: privatePath };
}

export function loadPrivateKey(path: string): KeyPair {
  let pem: Buffer;
  let mode: number;
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new KeyError(code === "ENOENT" ? `no device key at ${path} (create it with \`ledagent keys init\`)` : `cannot read device key ${path}: ${code ?? (err as Error).message}`);
  }
  try {
    mode = fstatSync(fd).mode & 0o777; // the file read is the file checked
    pem = readFileSync(fd);
  } finally {
    closeSync(fd);
  }
  if ((mode & 0o077) !== 0) {
    throw new KeyError(`device key ${path} is readable by others (mode ${mode.toString(8)}); run chmod 600 on it`);
  }
  try {
    checkTrustedPath(path); // its owner and every directory on its path, as for the config
  } catch (err) {
    if (!(err instanceof TrustedFileError)) throw err;
    throw new KeyError(`device key ${err.message}`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new KeyError(`device key ${path} is not a readable private key`);
  }
  if (privateKey.asymmetricKeyType !== "ed25519") throw new KeyError(`device key ${path} is ${privateKey.asymmetricKeyType}, expected ed25519`);
  return { privateKey, publicKey: createPublicKey(privateKey), file: path };
}

export function parsePublicKey(pem: string | Buffer, source = "public key"): KeyObject {
  // createPublicKey also accepts a private key (deriving its public half): refuse it, so no one
  // is ever asked to copy a device's private key off the device to verify its proofs.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem.toString())) {
    throw new KeyError(`${source} is a PRIVATE key; give the public key instead, and keep the private key where it belongs`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new KeyError(`${source} is not a PEM public key`);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new KeyError(`${source} is ${key.asymmetricKeyType}, expected ed25519`);
  return key;
}

/**
 * A public key from a PEM file: a regular file of sane size. `trusted` (the ops key, whose holder
 * can make this screen play anything) also refuses a file that group or others may write.
 */
export function loadPublicKey(path: string, opts: { trusted?: boolean } = {}): KeyObject {
  let pem: Buffer;
  try {
    pem = readTrustedFile(path, { maxBytes: 64 * 1024, refuseWritableByOthers: opts.trusted ?? false });
  } catch (err) {
    if (!(err instanceof TrustedFileError)) throw err;
    throw new KeyError(`public key ${err.message}`);
  }
  return parsePublicKey(pem, path);
}

/** base64 Ed25519 signature over canonical(value). */
export function signCanonical(value: unknown, privateKey: KeyObject): string {
  return sign(null, canonicalBytes(value), privateKey).toString("base64");
}

const BASE64 = /^[A-Za-z0-9+/]{86}==$/;

/**
 * True when `sig` is a valid Ed25519 signature over canonical(value), in canonical base64: the
 * unused low bits of the last character must be zero, or one signature would have several
 * spellings, and so an entry several hashes.
 */
export function verifyCanonical(value: unknown, sig: unknown, publicKey: KeyObject): boolean {
  return verifyText(canonicalBytes(value), sig, publicKey);
}

/** verifyCanonical for a caller that already holds the canonical text (or its bytes). */
export function verifyText(text: string | Buffer, sig: unknown, publicKey: KeyObject): boolean {
  if (typeof sig !== "string" || !BASE64.test(sig)) return false;
  const bytes = Buffer.from(sig, "base64");
  if (bytes.toString("base64") !== sig) return false;
  return verify(null, typeof text === "string" ? Buffer.from(text, "utf8") : text, publicKey, bytes);
}

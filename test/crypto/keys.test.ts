// Public keys are read as trusted files: a regular file of sane size, and for the ops key one
// that group and others cannot write (whoever can rewrite it can make the screen play anything).
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateKeyPairSync } from "node:crypto";
import { createKeyFiles, KeyError, loadPrivateKey, loadPublicKey, publicKeyPem } from "../../agent/crypto/index.js";
import { loadOpsPublicKey } from "../../agent/playback/schedule/index.js";
import { tempDir } from "../helpers/tmp.js";

let tmp: ReturnType<typeof tempDir>;
let pem: string;
beforeEach(() => {
  tmp = tempDir();
  pem = publicKeyPem(generateKeyPairSync("ed25519").publicKey);
});
afterEach(() => tmp.cleanup());

function keyFile(name: string, mode: number, text = pem): string {
  const path = join(tmp.dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

function refusal(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a refusal");
}

describe("loading public keys", () => {
  it("the ops key writable by group or others is refused, naming the fix; an auditor's key is read as it is", () => {
    const loose = keyFile("ops.pub.pem", 0o664);
    const err = refusal(() => loadOpsPublicKey({ opsPublicKey: loose }));
    expect(err).toBeInstanceOf(KeyError);
    expect(err.message).toMatch(/writable by group or others \(mode 0664\); fix with `chmod go-w/);
    expect(loadPublicKey(loose).asymmetricKeyType).toBe("ed25519");
    chmodSync(loose, 0o644);
    expect(loadOpsPublicKey({ opsPublicKey: loose })?.asymmetricKeyType).toBe("ed25519");
  });

  it("a FIFO, a directory or a device is refused at once instead of hanging or being read forever", () => {
    const fifo = join(tmp.dir, "fifo.pem");
    execFileSync("mkfifo", [fifo]);
    expect(refusal(() => loadPublicKey(fifo)).message).toMatch(/is a FIFO, not a regular file/);
    const dir = join(tmp.dir, "dir.pem");
    mkdirSync(dir);
    expect(refusal(() => loadPublicKey(dir)).message).toMatch(/is a directory, not a regular file/);
    expect(refusal(() => loadPublicKey("/dev/zero")).message).toMatch(/is a device, not a regular file/);
  });

  it("a huge file is refused by its size, not parsed", () => {
    const big = keyFile("big.pem", 0o644, "x".repeat(200 * 1024));
    expect(refusal(() => loadPublicKey(big)).message).toMatch(/is 204800 bytes, more than the 65536 allowed/);
  });

  it("no ops key configured is null (nothing can be accepted), a missing file names it", () => {
    expect(loadOpsPublicKey({})).toBeNull();
    expect(refusal(() => loadOpsPublicKey({ opsPublicKey: join(tmp.dir, "none.pem") })).message).toMatch(/none\.pem: no such file or directory \(ENOENT\)/);
  });
});

describe("loading the device private key", () => {
  it("a key in a directory others can write is refused, naming the directory and the fix", () => {
    const open = join(tmp.dir, "open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    createKeyFiles(join(open, "device.key"), join(open, "device.pub.pem"));
    const err = refusal(() => loadPrivateKey(join(open, "device.key")));
    expect(err).toBeInstanceOf(KeyError);
    expect(err.message).toMatch(/^device key .*open\/device\.key: directory .*open is writable by group or others \(mode 0777\)/);
    chmodSync(open, 0o755);
    expect(loadPrivateKey(join(open, "device.key")).privateKey.asymmetricKeyType).toBe("ed25519");
  });

  it.skipIf(process.getuid?.() !== 0)("a key owned by another user is refused (needs root, to give it away)", () => {
    const dir = join(tmp.dir, "keys");
    mkdirSync(dir, { mode: 0o700 });
    createKeyFiles(join(dir, "device.key"), join(dir, "device.pub.pem"));
    chownSync(join(dir, "device.key"), 65534, 65534);
    expect(refusal(() => loadPrivateKey(join(dir, "device.key"))).message).toMatch(/is owned by uid 65534, not by root/);
  });
});

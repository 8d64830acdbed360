// A throwaway PKI for TLS tests, made with the openssl command line: a CA, a server certificate
// for 127.0.0.1 and localhost (in the subjectAltName, which is what TLS clients check), a client
// certificate signed by the same CA, and a second CA with a client certificate of its own (one
// the broker must refuse). Also a server certificate that names only another host, for the
// check that the agent compares the broker's certificate with the URL's host.
import { spawnSync } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./tmp.js";

export interface KeyPair {
  cert: string;
  key: string;
}

export interface TestPki {
  dir: string;
  /** The CA that signed `server` and `client`. */
  ca: string;
  server: KeyPair;
  client: KeyPair;
  /** A second, unrelated CA, and a client certificate it signed. */
  otherCa: string;
  otherClient: KeyPair;
  /** Signed by `ca`, but for the name other.invalid only. */
  wrongNameServer: KeyPair;
  /** The file's bytes, as ConnectionOptions take them. */
  read(path: string): Buffer;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (r.error) throw new Error(`openssl could not be run (is it installed?): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
}

/** Fails early, with the reason, where the openssl command line is missing. */
export function opensslVersion(): string {
  const r = spawnSync("openssl", ["version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) throw new Error(`openssl is needed for the TLS tests: ${r.error?.message ?? r.stderr}`);
  return r.stdout.trim();
}

// EC P-256 keys: generated in milliseconds, and every TLS stack here speaks them.
const NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function makeCa(dir: string, name: string): string {
  openssl(
    ["req", "-x509", ...NEW_KEY, "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", `/CN=ledagent test ${name}`,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    dir,
  );
  return join(dir, `${name}.crt`);
}

function signLeaf(dir: string, ca: string, name: string, cn: string, extensions: string[]): KeyPair {
  const extFile = `${name}.ext`;
  writeFileSync(join(dir, extFile), `${["basicConstraints=CA:FALSE", ...extensions].join("\n")}\n`);
  openssl(["req", "-new", ...NEW_KEY, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`], dir);
  openssl(
    ["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-out", `${name}.crt`, "-days", "2", "-extfile", extFile],
    dir,
  );
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

export function makeTestPki(): TestPki {
  opensslVersion();
  const { dir, cleanup } = tempDir("ledagent-pki-");
  const ca = makeCa(dir, "ca");
  const otherCa = makeCa(dir, "other-ca");
  const server = signLeaf(dir, "ca", "server", "localhost", ["subjectAltName=IP:127.0.0.1,DNS:localhost", "extendedKeyUsage=serverAuth"]);
  const wrongNameServer = signLeaf(dir, "ca", "wrong-name", "other.invalid", ["subjectAltName=DNS:other.invalid", "extendedKeyUsage=serverAuth"]);
  const client = signLeaf(dir, "ca", "client", "ledagent-screen-1", ["extendedKeyUsage=clientAuth"]);
  const otherClient = signLeaf(dir, "other-ca", "other-client", "ledagent-screen-1", ["extendedKeyUsage=clientAuth"]);
  // Private keys are the owner's alone, as the agent requires of its own (mosquitto runs as root
  // in the tests, so it still reads the broker's); certificates are for everyone to read.
  chmodSync(dir, 0o755);
  for (const name of readdirSync(dir)) chmodSync(join(dir, name), name.endsWith(".key") ? 0o600 : 0o644);
  return { dir, ca, server, client, otherCa, otherClient, wrongNameServer, read: (path) => readFileSync(path), cleanup };
}

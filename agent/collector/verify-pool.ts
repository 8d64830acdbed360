// Ed25519 verification is most of a collector's work on a batch (some 200 µs an entry, against
// tens for everything else), so a batch's signatures are checked on worker threads, a slice on
// each: a 100k-entry backlog drains as fast as the cores allow, and the collector's own thread
// stays free for the broker's traffic. With no workers (or one core) they are checked in line.
import type { KeyObject } from "node:crypto";
import { verify } from "node:crypto";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";

export interface SignedText {
  /** The canonical text the signature covers. */
  text: string;
  sig: string;
}

export interface SignatureVerifier {
  /** Whether each signature is a valid Ed25519 signature over its text under `key`, in order. */
  verifyAll(key: KeyObject, items: SignedText[]): Promise<boolean[]>;
  close(): Promise<void>;
}

// Canonical padded base64 of 64 bytes, as the crypto module insists on (one signature, one
// spelling, so one entry has one hash); checked here, the worker only runs the curve arithmetic.
const BASE64_SIG = /^[A-Za-z0-9+/]{86}==$/;

function signatureBytes(sig: string): Buffer | null {
  if (!BASE64_SIG.test(sig)) return null;
  const bytes = Buffer.from(sig, "base64");
  return bytes.toString("base64") === sig ? bytes : null;
}

function verifyInLine(key: KeyObject, items: SignedText[]): boolean[] {
  return items.map(({ text, sig }) => {
    const bytes = signatureBytes(sig);
    return bytes !== null && verify(null, Buffer.from(text, "utf8"), key, bytes);
  });
}

export const inlineVerifier: SignatureVerifier = {
  verifyAll: async (key, items) => verifyInLine(key, items),
  close: async () => undefined,
};

// The worker's whole program: plain Node, no imports of ours, so it runs the same from the
// sources and from the build.
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { verify } = require("node:crypto");
parentPort.on("message", ({ id, key, texts, sigs }) => {
  const results = texts.map((text, i) => sigs[i] !== null && verify(null, Buffer.from(text, "utf8"), key, sigs[i]));
  parentPort.postMessage({ id, results });
});
`;

interface Pending {
  resolve: (results: boolean[]) => void;
  reject: (err: Error) => void;
}

/** A call is split into slices of at least this many entries, each a thread hop. */
const MIN_SLICE = 32;

export class VerifyPool implements SignatureVerifier {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private turn = 0;
  private broken: Error | null = null;

  constructor(size = Math.min(4, availableParallelism())) {
    for (let i = 0; i < size; i++) this.workers.push(this.spawn());
  }

  private spawn(): Worker {
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.unref();
    w.on("message", ({ id, results }: { id: number; results: boolean[] }) => {
      this.pending.get(id)?.resolve(results);
      this.pending.delete(id);
    });
    w.on("error", (err) => this.fail(err));
    w.on("exit", (code) => {
      if (code !== 0) this.fail(new Error(`a signature worker exited with code ${code}`));
    });
    return w;
  }

  /** A dead worker fails what it held; from then on signatures are checked in line. */
  private fail(err: Error): void {
    this.broken ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** Splits `items` over the workers (round robin, slices of at least MIN_SLICE); never blocks this thread. */
  async verifyAll(key: KeyObject, items: SignedText[]): Promise<boolean[]> {
    if (this.broken || this.workers.length === 0) return verifyInLine(key, items);
    if (items.length === 0) return [];
    const slices = Math.max(1, Math.min(this.workers.length, Math.floor(items.length / MIN_SLICE)));
    const per = Math.ceil(items.length / slices);
    const parts = Array.from({ length: slices }, (_, i) => this.run(this.nextWorker(), key, items.slice(i * per, (i + 1) * per)));
    try {
      return (await Promise.all(parts)).flat();
    } catch {
      return verifyInLine(key, items);
    }
  }

  private nextWorker(): Worker {
    this.turn = (this.turn + 1) % this.workers.length;
    return this.workers[this.turn];
  }

  private run(worker: Worker, key: KeyObject, items: SignedText[]): Promise<boolean[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, key, texts: items.map((i) => i.text), sigs: items.map((i) => signatureBytes(i.sig)) });
    });
  }

  async close(): Promise<void> {
    this.fail(new Error("the signature pool was closed"));
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}

// The bytes of mpv's IPC socket, read in a worker thread.
// Why a thread: start and end times come from the moment mpv's events arrive. Read on the main
// thread, an event that arrives while the event loop is busy (a ledger fsync, a large JSON
// parse) would be stamped when the loop gets to it, tens of ms late, and a proof would say the
// play started later than it did. The worker's loop does nothing else, so it stamps each read
// on arrival (process.hrtime, the monotonic clock all threads share) and hands bytes and stamp
// to the main thread, which decodes them whenever it can.
import { EventEmitter } from "node:events";
import { Worker } from "node:worker_threads";

/**
 * The worker's code, evaluated from a string so that it runs the same from the TypeScript
 * sources (tests), from dist/ and from a bundle, without a second file to locate at run time.
 */
const READER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const net = require("node:net");
const socket = net.connect(workerData.path);
socket.setNoDelay(true);
socket.on("connect", () => parentPort.postMessage({ type: "open" }));
socket.on("data", (chunk) => parentPort.postMessage({ type: "data", chunk, atNs: process.hrtime.bigint() }));
socket.on("error", (err) => parentPort.postMessage({ type: "error", message: err.message }));
socket.on("close", () => { parentPort.postMessage({ type: "close" }); parentPort.close(); });
parentPort.on("message", (m) => {
  if (m.type === "write") socket.write(m.line);
  else if (m.type === "end") socket.destroy();
});
`;

type ReaderMessage =
  | { type: "open" }
  | { type: "data"; chunk: Uint8Array; atNs: bigint }
  | { type: "error"; message: string }
  | { type: "close" };

export interface SocketTransportEvents {
  /** Bytes from mpv and when they arrived (process.hrtime.bigint(), ns). */
  data: [chunk: Uint8Array, atNs: bigint];
  /** The connection is gone; `error` says why when it was not a clean close. */
  close: [error: string | undefined];
}

/** One connection to mpv's IPC socket: moves bytes, nothing else. */
export class SocketTransport extends EventEmitter<SocketTransportEvents> {
  private worker: Worker | null;
  private lastError: string | undefined;
  private closed = false;

  private constructor(worker: Worker) {
    super();
    this.worker = worker;
  }

  /** Connects to the unix socket at `path`; rejects with the reason when it cannot. */
  static connect(path: string): Promise<SocketTransport> {
    const worker = new Worker(READER_SOURCE, { eval: true, workerData: { path } });
    const transport = new SocketTransport(worker);
    return new Promise((resolve, reject) => {
      const onFirst = (m: ReaderMessage): void => {
        if (m.type === "open") {
          worker.off("message", onFirst);
          worker.on("message", (next: ReaderMessage) => transport.onReaderMessage(next));
          resolve(transport);
        } else if (m.type === "error") {
          worker.off("message", onFirst);
          void worker.terminate();
          reject(new Error(`connect ${path}: ${m.message}`));
        }
      };
      worker.on("message", onFirst);
      worker.on("error", (err) => reject(err));
      worker.on("exit", () => transport.finish());
    });
  }

  write(line: string): void {
    if (this.closed || this.worker === null) throw new Error("the mpv connection is closed");
    this.worker.postMessage({ type: "write", line });
  }

  /** Closes the connection; `close` follows. */
  end(): void {
    if (this.worker === null) return;
    this.worker.postMessage({ type: "end" });
  }

  private onReaderMessage(m: ReaderMessage): void {
    if (m.type === "data") this.emit("data", m.chunk, m.atNs);
    else if (m.type === "error") this.lastError = m.message;
    else if (m.type === "close") this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    const worker = this.worker;
    this.worker = null;
    void worker?.terminate();
    this.emit("close", this.lastError);
  }
}

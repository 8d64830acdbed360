// A transport only moves bytes: it knows nothing of frames. One `connect` makes one connection;
// after it closes, the link above asks for a fresh one.

export interface ByteSink {
  data(chunk: Uint8Array): void;
  /** Called once, when the connection ends for any reason (peer closed, I/O error, close()). */
  closed(reason: string): void;
}

export interface ByteConnection {
  /** Queues bytes; an I/O failure surfaces as `closed`, never as a throw. */
  write(bytes: Uint8Array): void;
  close(): void;
}

export interface ByteTransport {
  /** The URL it was built from, for messages: `tcp://10.0.0.5:5200`. */
  readonly url: string;
  /** Rejects with an Error whose message says why (ECONNREFUSED, no such device …). */
  connect(sink: ByteSink): Promise<ByteConnection>;
}

export class TransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransportError";
  }
}

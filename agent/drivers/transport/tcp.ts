// TCP transport: NovaStar controllers carry the same frames on port 5200.
import { Socket } from "node:net";
import type { ByteConnection, ByteSink, ByteTransport } from "./types.js";

export interface TcpTarget {
  host: string;
  port: number;
  /** How long a connect may take before it counts as failed. */
  connectTimeoutMs?: number;
}

export class TcpTransport implements ByteTransport {
  readonly url: string;

  constructor(private readonly target: TcpTarget) {
    this.url = `tcp://${target.host}:${target.port}`;
  }

  connect(sink: ByteSink): Promise<ByteConnection> {
    return new Promise((resolve, reject) => {
      const socket = new Socket();
      let open = false;
      let ended = false;
      const finish = (reason: string): void => {
        if (ended) return;
        ended = true;
        socket.destroy();
        if (open) sink.closed(reason);
        else reject(new Error(reason));
      };
      socket.setNoDelay(true);
      socket.setTimeout(this.target.connectTimeoutMs ?? 3000, () => {
        if (!open) finish(`connect timed out after ${this.target.connectTimeoutMs ?? 3000} ms`);
      });
      socket.on("error", (err: NodeJS.ErrnoException) => finish(err.code ?? err.message));
      socket.on("close", () => finish("connection closed by peer"));
      socket.on("end", () => finish("connection closed by peer"));
      socket.on("data", (chunk: Buffer) => sink.data(chunk));
      socket.connect(this.target.port, this.target.host, () => {
        open = true;
        socket.setTimeout(0);
        resolve({
          write: (bytes) => {
            if (!ended) socket.write(bytes);
          },
          close: () => finish("closed by agent"),
        });
      });
    });
  }
}

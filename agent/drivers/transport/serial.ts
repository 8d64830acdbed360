// Serial transport via node-serialport, 8N1 at the configured baud rate.
import type { ByteConnection, ByteSink, ByteTransport } from "./types.js";

export interface SerialTarget {
  path: string;
  baudRate: number;
}

export class SerialTransport implements ByteTransport {
  readonly url: string;

  constructor(private readonly target: SerialTarget) {
    this.url = `serial://${target.path}?baud=${target.baudRate}`;
  }

  async connect(sink: ByteSink): Promise<ByteConnection> {
    // Loaded when a serial port is first opened: an agent on a LAN controller, or none, never
    // needs node-serialport's native binding (some 15 MB).
    const { SerialPort } = await import("serialport");
    return new Promise((resolve, reject) => {
      const port = new SerialPort({ path: this.target.path, baudRate: this.target.baudRate, dataBits: 8, parity: "none", stopBits: 1, autoOpen: false });
      let open = false;
      let ended = false;
      const finish = (reason: string): void => {
        if (ended) return;
        ended = true;
        if (port.isOpen) port.close(() => undefined);
        if (open) sink.closed(reason);
        else reject(new Error(reason));
      };
      port.on("error", (err: Error) => finish(err.message));
      port.on("close", () => finish("port closed"));
      port.on("data", (chunk: Buffer) => sink.data(chunk));
      port.open((err) => {
        if (err) return finish(err.message);
        open = true;
        resolve({
          write: (bytes) => {
            if (!ended) port.write(Buffer.from(bytes));
          },
          close: () => finish("closed by agent"),
        });
      });
    });
  }
}

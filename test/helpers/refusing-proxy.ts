// A TCP proxy in front of a real broker that behaves like an old broker which does not know
// MQTT 5: it reads each client's CONNECT, closes the connection without a word when the protocol
// level is 5, and passes everything else through to the broker behind it.
import { connect, createServer, type Server, type Socket } from "node:net";

export interface RefusingProxy {
  port: number;
  url: string;
  /** The protocol level of every CONNECT seen, in order. */
  levels: number[];
  close(): Promise<void>;
}

/** The protocol level of a CONNECT at the start of `buf`, or null while too little has arrived. */
export function connectProtocolLevel(buf: Buffer): number | null {
  if (buf.length < 2) return null;
  if (buf[0] >> 4 !== 1) throw new Error(`not a CONNECT packet (first byte 0x${buf[0].toString(16)})`);
  // Remaining length: 1–4 bytes, 7 bits each, high bit = more.
  let i = 1;
  while (i < buf.length && i < 5 && (buf[i] & 0x80) !== 0) i++;
  const nameAt = i + 1;
  if (buf.length < nameAt + 2) return null;
  const nameLength = buf.readUInt16BE(nameAt);
  const levelAt = nameAt + 2 + nameLength;
  return buf.length > levelAt ? buf[levelAt] : null;
}

function handle(client: Socket, targetPort: number, levels: number[], sockets: Set<Socket>): void {
  let buffered = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    buffered = Buffer.concat([buffered, chunk]);
    let level: number | null;
    try {
      level = connectProtocolLevel(buffered);
    } catch {
      client.destroy();
      return;
    }
    if (level === null) return;
    client.off("data", onData);
    levels.push(level);
    if (level === 5) {
      client.end();
      return;
    }
    const upstream = connect({ port: targetPort, host: "127.0.0.1" });
    sockets.add(upstream);
    upstream.once("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
    upstream.write(buffered);
    client.pipe(upstream);
    upstream.pipe(client);
  };
  client.on("data", onData);
}

export async function startRefusingProxy(targetPort: number): Promise<RefusingProxy> {
  const levels: number[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.once("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    handle(client, targetPort, levels, sockets);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    levels,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

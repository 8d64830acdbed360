// Chooses the transport from the config's controller.port URL.
import { SerialTransport } from "./serial.js";
import { TcpTransport } from "./tcp.js";
import { TransportError, type ByteTransport } from "./types.js";

export const DEFAULT_BAUD = 115200;
export const DEFAULT_TCP_PORT = 5200;

export type PortSpec = { kind: "serial"; path: string; baudRate: number } | { kind: "tcp"; host: string; port: number };

/** `serial:///dev/ttyUSB0?baud=115200` or `tcp://host:5200`; throws TransportError naming the problem. */
export function parsePortUrl(url: string): PortSpec {
  if (url.startsWith("serial://")) {
    const rest = url.slice("serial://".length);
    const [path, query = ""] = rest.split("?", 2);
    if (!path.startsWith("/")) throw new TransportError(`${url}: a serial port needs an absolute device path, as in serial:///dev/ttyUSB0`);
    const params = new URLSearchParams(query);
    for (const key of params.keys()) if (key !== "baud") throw new TransportError(`${url}: unknown option ${JSON.stringify(key)} (only baud)`);
    const baudText = params.get("baud");
    const baudRate = baudText === null ? DEFAULT_BAUD : Number(baudText);
    if (!Number.isInteger(baudRate) || baudRate < 300 || baudRate > 4_000_000) throw new TransportError(`${url}: baud ${JSON.stringify(baudText)} is not a rate between 300 and 4000000`);
    return { kind: "serial", path, baudRate };
  }
  if (url.startsWith("tcp://")) {
    const m = /^tcp:\/\/([^/:]+|\[[0-9a-fA-F:]+\])(?::(\d{1,5}))?\/?$/.exec(url);
    if (!m) throw new TransportError(`${url}: expected tcp://host:port`);
    const port = m[2] === undefined ? DEFAULT_TCP_PORT : Number(m[2]);
    if (port < 1 || port > 65535) throw new TransportError(`${url}: port ${port} is not 1..65535`);
    return { kind: "tcp", host: m[1].replace(/^\[|\]$/g, ""), port };
  }
  throw new TransportError(`${url}: not a controller port URL (serial:///dev/ttyUSB0?baud=115200 or tcp://host:5200)`);
}

export function transportFor(url: string, opts: { connectTimeoutMs?: number } = {}): ByteTransport {
  const spec = parsePortUrl(url);
  return spec.kind === "serial" ? new SerialTransport({ path: spec.path, baudRate: spec.baudRate }) : new TcpTransport({ host: spec.host, port: spec.port, connectTimeoutMs: opts.connectTimeoutMs });
}

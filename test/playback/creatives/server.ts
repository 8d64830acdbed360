// A local HTTP server (127.0.0.1 only) that serves files with Range support and can
// misbehave on request: cut the connection part-way, answer 404 or 500, redirect anywhere,
// announce a size it does not send, or drip its bytes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Route {
  body: Buffer;
  /** Cut the connection after this many body bytes, on the first `cuts` requests. */
  cutAfter?: number;
  cuts?: number;
  /** Answer this status on the first `failures` requests. */
  failStatus?: number;
  failures?: number;
  /** Ignore Range headers (always 200 with the whole body). */
  noRanges?: boolean;
  /** Answer 302 to this Location (absolute, or a path on this server). */
  redirectTo?: string;
  /** Claim this total in Content-Range (206) or Content-Length (200) instead of the body's. */
  announce?: number;
  /** Send `bytes` every `everyMs` on the first `requests` requests (default 1), until the client leaves. */
  drip?: { bytes: number; everyMs: number; requests?: number };
}

export interface TestServer {
  url(path: string): string;
  /** Every request seen: path and Range header. */
  requests: { path: string; range: string | undefined }[];
  close(): Promise<void>;
}

function drip(res: ServerResponse, rest: Buffer, bytes: number, everyMs: number): void {
  let sent = 0;
  const timer = setInterval(() => {
    if (sent >= rest.length) {
      clearInterval(timer);
      res.end();
      return;
    }
    res.write(rest.subarray(sent, sent + bytes));
    sent += bytes;
  }, everyMs);
  res.on("close", () => clearInterval(timer));
}

export async function startServer(routes: Record<string, Route>): Promise<TestServer> {
  const requests: TestServer["requests"] = [];
  const counts = new Map<string, number>();
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = req.url ?? "/";
    requests.push({ path, range: req.headers.range });
    const route = routes[path];
    const n = (counts.get(path) ?? 0) + 1;
    counts.set(path, n);
    if (!route) {
      res.writeHead(404).end("not found");
      return;
    }
    if (route.failStatus && n <= (route.failures ?? Infinity)) {
      res.writeHead(route.failStatus).end("failing on purpose");
      return;
    }
    if (route.redirectTo !== undefined) {
      res.writeHead(302, { location: route.redirectTo }).end();
      return;
    }
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    if (m && !route.noRanges) {
      start = Number(m[1]);
      if (start >= route.body.length) {
        res.writeHead(416, { "content-range": `bytes */${route.body.length}` }).end();
        return;
      }
      res.writeHead(206, { "content-length": route.body.length - start, "content-range": `bytes ${start}-${route.body.length - 1}/${route.announce ?? route.body.length}`, "accept-ranges": "bytes" });
    } else {
      res.writeHead(200, { "content-length": route.announce ?? route.body.length, "accept-ranges": "bytes" });
    }
    const rest = route.body.subarray(start);
    if (route.drip && n <= (route.drip.requests ?? 1)) {
      drip(res, rest, route.drip.bytes, route.drip.everyMs);
      return;
    }
    if (route.cutAfter !== undefined && n <= (route.cuts ?? 1)) {
      // Let the bytes arrive before the cut, as on a real network that drops mid-transfer.
      res.write(rest.subarray(0, route.cutAfter), () => setTimeout(() => res.destroy(), 100));
      return;
    }
    res.end(rest);
  };
  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

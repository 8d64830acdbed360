// The demo's creative host: serves exactly the demo's media files over HTTP on loopback, as a CDN
// would (a schedule over MQTT may not name file: URLs). Anything else is 404.
import { createReadStream, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { basename } from "node:path";
import type { DemoMedia } from "./media.js";

export class MediaServer {
  private constructor(
    private readonly server: Server,
    /** The base URL the files are under, ending in "/". */
    readonly baseUrl: string,
  ) {}

  static async start(media: readonly DemoMedia[]): Promise<MediaServer> {
    const files = new Map(media.map((m) => [`/media/${basename(m.file)}`, m.file]));
    const server = createServer((req, res) => {
      const file = req.method === "GET" ? files.get(req.url ?? "") : undefined;
      if (!file) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": file.endsWith(".png") ? "image/png" : "video/mp4", "content-length": statSync(file).size });
      createReadStream(file).pipe(res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return new MediaServer(server, `http://127.0.0.1:${port}/media/`);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

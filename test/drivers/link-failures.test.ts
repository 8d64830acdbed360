// What the link says when a request fails: named after what happened (closed, refused, silent),
// never a timeout for a connection the controller closed.
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { driverFor } from "./helpers.js";

/** A TCP server on a free port; `onConnection` decides what each accepted connection gets. */
async function listen(onConnection: (socket: Socket) => void): Promise<{ server: Server; url: string; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, sockets, url: `tcp://127.0.0.1:${(server.address() as { port: number }).port}` };
}

async function close(s: { server: Server; sockets: Set<Socket> }): Promise<void> {
  for (const socket of s.sockets) socket.destroy();
  await new Promise<void>((resolve) => s.server.close(() => resolve()));
}

describe("link failure messages", () => {
  let hangUp: Awaited<ReturnType<typeof listen>>;
  let silent: Awaited<ReturnType<typeof listen>>;

  beforeAll(async () => {
    // Accepts, then closes at once: a controller whose TCP slot is taken, or a wrong service.
    hangUp = await listen((socket) => socket.resume().end());
    // Accepts and never answers.
    silent = await listen(() => undefined);
  });

  afterAll(async () => {
    await close(hangUp);
    await close(silent);
  });

  it("a controller that accepts and closes: 'closed the connection', not a timeout", async () => {
    const { controller } = driverFor(hangUp.url);
    await controller.start();
    try {
      const started = Date.now();
      await expect(controller.probe()).rejects.toMatchObject({ reason: "link", message: `cannot read the model id: controller ${hangUp.url} closed the connection without answering (2 attempts)` });
      expect(Date.now() - started).toBeLessThan(2000);
      const status = await controller.status();
      expect(status).toMatchObject({ online: false, faults: ["link.down"] });
      expect(status.detail).toBe(`controller ${hangUp.url} closed the connection without answering (2 attempts)`);
    } finally {
      await controller.stop();
    }
  });

  it("nothing listening: 'refused the connection'", async () => {
    const gone = await listen(() => undefined);
    const url = gone.url;
    await close(gone);
    const { controller } = driverFor(url);
    await controller.start();
    try {
      await expect(controller.probe()).rejects.toThrow(`cannot read the model id: controller ${url} refused the connection (ECONNREFUSED)`);
      expect(await controller.status()).toMatchObject({ online: false, faults: ["link.down"], detail: `controller ${url} refused the connection (ECONNREFUSED)` });
    } finally {
      await controller.stop();
    }
  });

  it("a controller that stays silent: 'did not answer within N s'", async () => {
    const { controller } = driverFor(silent.url);
    await controller.start();
    try {
      await expect(controller.probe()).rejects.toThrow(new RegExp(`^cannot read the model id: controller ${silent.url} did not answer within \\d+ s$`));
      expect(await controller.status()).toMatchObject({ online: false, faults: ["link.timeout"] });
    } finally {
      await controller.stop();
    }
  });
});

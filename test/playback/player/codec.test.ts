import { describe, expect, it } from "vitest";
import { decodeLine, encodeCommand, LineDecoder, MAX_LINE_BYTES } from "../../../agent/playback/player/codec.js";

const bytes = (s: string): Uint8Array => Buffer.from(s, "utf8");

describe("mpv IPC codec", () => {
  it("encodes a command with its request id, one line", () => {
    expect(encodeCommand(7, ["loadfile", "/a b\n.mp4", "append-play", "image-display-duration=2.000"])).toBe(
      '{"command":["loadfile","/a b\\n.mp4","append-play","image-display-duration=2.000"],"request_id":7}\n',
    );
    expect(encodeCommand(1, ["playlist-remove", 0])).toBe('{"command":["playlist-remove",0],"request_id":1}\n');
  });

  it("refuses a request id mpv cannot echo, and a command without a name", () => {
    expect(() => encodeCommand(0, ["stop"])).toThrow(/positive integer/);
    expect(() => encodeCommand(1.5, ["stop"])).toThrow(/positive integer/);
    expect(() => encodeCommand(1, [])).toThrow(/starts with its name/);
    expect(() => encodeCommand(1, { name: "" })).toThrow(/starts with its name/);
  });

  it("encodes named arguments as one object: loadfile's options stay named across mpv versions", () => {
    expect(encodeCommand(3, { name: "loadfile", url: "/a.mp4", flags: "append-play", options: "end=1.500" })).toBe(
      '{"command":{"name":"loadfile","url":"/a.mp4","flags":"append-play","options":"end=1.500"},"request_id":3}\n',
    );
  });

  it("decodes mpv 0.35's replies and events (captured vectors)", () => {
    expect(decodeLine('{"data":{"playlist_entry_id":1},"request_id":1,"error":"success"}')).toEqual({
      kind: "reply", requestId: 1, error: "success", data: { playlist_entry_id: 1 },
    });
    expect(decodeLine('{"request_id":4,"error":"property unavailable"}')).toEqual({
      kind: "reply", requestId: 4, error: "property unavailable", data: undefined,
    });
    expect(decodeLine('{"event":"start-file","playlist_entry_id":1}')).toEqual({ kind: "event", event: "start-file", fields: { playlist_entry_id: 1 } });
    expect(decodeLine('{"event":"end-file","reason":"error","playlist_entry_id":3,"file_error":"unrecognized file format"}')).toEqual({
      kind: "event", event: "end-file", fields: { reason: "error", playlist_entry_id: 3, file_error: "unrecognized file format" },
    });
    expect(decodeLine('{"event":"playback-restart"}')).toEqual({ kind: "event", event: "playback-restart", fields: {} });
  });

  it("calls garbage garbage, and says why", () => {
    expect(decodeLine("hello")).toMatchObject({ kind: "garbage", reason: "not JSON" });
    expect(decodeLine("[1,2]")).toMatchObject({ kind: "garbage", reason: "not a JSON object" });
    expect(decodeLine('{"error":"success"}')).toMatchObject({ kind: "garbage", reason: "a reply without a request_id" });
    expect(decodeLine('{"foo":1}')).toMatchObject({ kind: "garbage", reason: "neither an event nor a reply" });
  });

  it("reassembles lines split across reads, and several lines in one read", () => {
    const d = new LineDecoder();
    expect(d.push(bytes('{"event":"file-lo'))).toEqual([]);
    expect(d.push(bytes('aded"}\n{"event":"idle"}\n{"request_id":2,'))).toEqual([
      { kind: "event", event: "file-loaded", fields: {} },
      { kind: "event", event: "idle", fields: {} },
    ]);
    expect(d.push(bytes('"error":"success","data":null}\n'))).toEqual([{ kind: "reply", requestId: 2, error: "success", data: null }]);
  });

  it("decodes a multi-byte character split between two reads", () => {
    const line = Buffer.from('{"event":"x","name":"广告"}\n', "utf8");
    const cut = line.indexOf(0xe5) + 1; // inside the first character
    const d = new LineDecoder();
    expect(d.push(line.subarray(0, cut))).toEqual([]);
    expect(d.push(line.subarray(cut))).toEqual([{ kind: "event", event: "x", fields: { name: "广告" } }]);
  });

  it("resyncs after garbage: the next line decodes; blank lines and CRLF are tolerated", () => {
    const d = new LineDecoder();
    const out = d.push(bytes('\x00\xffnoise\n\n{"event":"idle"}\r\n'));
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({ kind: "garbage", reason: "not JSON" });
    expect(out[1]).toEqual({ kind: "event", event: "idle", fields: {} });
  });

  it("reports an overlong line once, skips the rest of it, and carries on", () => {
    const d = new LineDecoder();
    const big = "x".repeat(MAX_LINE_BYTES / 2);
    expect(d.push(bytes(big))).toEqual([]);
    const over = d.push(bytes(big + "x"));
    expect(over).toHaveLength(1);
    expect(over[0]).toMatchObject({ kind: "garbage", reason: `a line longer than ${MAX_LINE_BYTES} bytes` });
    expect(d.push(bytes(`${big}\n{"event":"idle"}\n`))).toEqual([{ kind: "event", event: "idle", fields: {} }]);
  });
});

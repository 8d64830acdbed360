// The player: mpv driven over its JSON IPC socket (docs/player.md).
export { Player, PlayerUnavailable, fileOptions, type PlayerDeps, type PlayerEvents, type DiedEvent, type RestartedEvent } from "./player.js";
export type { PlayItem, EndReason, StartedEvent, EndedEvent, DiscardedEvent } from "./entries.js";
export type { Stamp, Clocks } from "./client.js";
export { MpvCommandError } from "./client.js";
export { mpvArgs, type MpvOptions } from "./mpv-process.js";
export { encodeCommand, decodeLine, LineDecoder, type MpvMessage, type MpvArg } from "./codec.js";

// The command registry, the control socket that serves it to the local CLI, and the CLI's client.
export * from "./types.js";
export { ALL_COMMANDS, CommandRegistry, DEFAULT_COMMAND_TIMEOUT_MS, type RegistryOptions } from "./registry.js";
export { defineCommand, type Command, type CommandSpec } from "./definition.js";
export { agentStatus, type AgentStatus } from "./agent-commands.js";
export { MAX_SCREENSHOT_BYTES } from "./playout-commands.js";
export { ControlSocketServer, type CommandExecutor, type ControlServerDeps } from "./server.js";
export { ControlSocketError, SOCKET_MODE, type ControlSocketErrorCode } from "./socket-path.js";
export { callDaemon, DaemonCallError, DEFAULT_CALL_TIMEOUT_MS, type CallOptions, type DaemonCall, type DaemonCallErrorCode } from "./client.js";
export { CONTROL_SOCKET_NAME, MAX_LINE_BYTES, type ControlReply, type ControlRequest, type ProtocolErrorCode } from "./protocol.js";

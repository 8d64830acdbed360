// `ledagent demo`: until the full demo (broker, simulator, player) lands, it says what the agent
// can do today and how to try each part on this machine.
import type { Command } from "commander";

const TODAY = `ledagent: what works today (the full demo, with broker and player, comes next)

Set up a screen and its signed ledger:
  npx ledagent init --screen demo-001 --data-dir $PWD/.ledagent-demo --panel 768x384 --config .ledagent-demo/config.yaml
  export LEDAGENT_CONFIG=.ledagent-demo/config.yaml
  npx ledagent note "hello from the field"                 append a signed technician note
  npx ledagent proofs export --out .ledagent-demo/proofs.jsonl
  npx ledagent proofs verify --key .ledagent-demo/keys/device.pub.pem .ledagent-demo/proofs.jsonl

Drive a (simulated) NovaStar controller:
  npx ledagent simulate novastar --tcp 127.0.0.1:5200 &    a wire-faithful sending card
  LEDAGENT_CONTROLLER_DRIVER=novastar LEDAGENT_CONTROLLER_PORT=tcp://127.0.0.1:5200 npx ledagent controller status
  (same variables) npx ledagent controller brightness 60 | blackout on | pattern red

Fit creatives to the panel:
  npx ledagent creatives prepare some-video.mp4            exact panel size, H.264, cached by hash
  npx ledagent pattern grid                                 a 1 px grid at the panel's resolution

Plan a signed schedule:
  npx ledagent schedule plan --schedule schedule.json --hours 2
  npx ledagent schedule load schedule.json                  (needs opsPublicKey in the config)
  npx ledagent report delivery

Every command has --help. Documentation: README.md and docs/.
`;

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description("run everything on this machine (for now: what the agent can do today)")
    .action(() => {
      process.stdout.write(TODAY);
    });
}

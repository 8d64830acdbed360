// `ledagent demo`: until the full demo (broker, simulator, collector) lands, it says what the
// agent can do today and how to try each part on this machine.
import type { Command } from "commander";

const TODAY = `ledagent: what works today (the full demo, with broker, simulator and collector, comes next)

Set up a screen and its signed ledger:
  npx ledagent init --screen demo-001 --data-dir $PWD/.ledagent-demo --panel 768x384 --timezone Asia/Shanghai --config .ledagent-demo/config.yaml
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

Sign a schedule as ops would, load it, and see the plan:
  npx ledagent ops keys init --dir .ledagent-demo/ops
  npx ledagent ops sign-schedule deploy/examples/schedule.json --key .ledagent-demo/ops/ops.key --out .ledagent-demo/schedule.signed.json
  LEDAGENT_OPS_PUBLIC_KEY=$PWD/.ledagent-demo/ops/ops.pub.pem npx ledagent schedule load .ledagent-demo/schedule.signed.json
  npx ledagent schedule plan --from 2026-12-04T12:00:00+08:00 --hours 1
  npx ledagent report delivery --from 2026-12-04 --to 2026-12-05

Play it (mpv; add --headless to init on a machine without a display), with the creatives the
schedule names reachable (file: URLs are fine):
  npx ledagent run &                                         the agent: plays, records every play
  npx ledagent status                                        on screen now, next, live orders
  npx ledagent suspend --reason test --until <time> | resume | takedown --campaign <id> [--lift]
  npx ledagent pattern grid --seconds 10                     a 1 px grid at the panel's resolution
  npx ledagent proofs export --format csv                    the play detail

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

// `ledagent demo`: until the full demo (broker, simulator, player) lands, it says what the agent
// can do today and how to run it.
import type { Command } from "commander";

const TODAY = `ledagent — what works today

  ledagent init --screen ID --data-dir DIR --config FILE   write a config and create the device key
  ledagent keys show                                     print the device public key (PEM)
  ledagent note "replaced module 3"                      append a signed technician note to the ledger
  ledagent proofs export [--customer C] [--format csv]   export the signed, hash-chained ledger
  ledagent proofs verify --key device.pub.pem FILE       verify an export as any third party would

Try it:
  npx ledagent init --screen demo-001 --data-dir ./.ledagent-demo --config ./.ledagent-demo/config.yaml
  npx ledagent --config ./.ledagent-demo/config.yaml note "hello from the field"
  npx ledagent --config ./.ledagent-demo/config.yaml proofs export --out ./.ledagent-demo/proofs.jsonl
  npx ledagent proofs verify --key ./.ledagent-demo/keys/device.pub.pem ./.ledagent-demo/proofs.jsonl
`;

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description("run everything on this machine (for now: what the agent can do today)")
    .action(() => {
      process.stdout.write(TODAY);
    });
}

#!/usr/bin/env -S npx tsx
// imagectl: start, watch and steer the boot-image workflows. Connection settings come from the
// same environment variables as the `temporal` CLI (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE).
//
// Exit codes: 0 success; 1 the workflow failed, was cancelled or timed out; 2 usage error or
// invalid spec (nothing started); 3 the workflow or server could not be reached.
import { parseArgs } from 'node:util';
import { commands, usage, type CommandOptions } from './commands';
import { ExitCode, exitCodeFor } from './exitCodes';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    json: { type: 'boolean', default: false },
    wait: { type: 'boolean', default: false },
    'dry-run': { type: 'boolean', default: false },
    reason: { type: 'string' },
    reject: { type: 'boolean', default: false },
    id: { type: 'string' },
    image: { type: 'string', multiple: true },
    server: { type: 'string', multiple: true },
    interval: { type: 'string', default: '1' },
    phase: { type: 'string' },
    status: { type: 'string' },
    limit: { type: 'string', default: '50' },
    html: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

const [name, ...args] = positionals;
const command = name ? commands[name] : undefined;
if (values.help || !command) {
  (values.help ? console.log : console.error)(usage);
  process.exit(values.help ? ExitCode.ok : ExitCode.usage);
}

const options: CommandOptions = {
  json: values.json,
  wait: values.wait,
  dryRun: values['dry-run'],
  reason: values.reason,
  reject: values.reject,
  workflowId: values.id,
  imageIds: values.image,
  servers: values.server,
  intervalMs: Number(values.interval) * 1000,
  phase: values.phase,
  status: values.status,
  limit: Number(values.limit),
  html: values.html,
};

try {
  process.exitCode = await command(args, options);
} catch (error) {
  process.exitCode = exitCodeFor(error);
  if (options.json) console.log(JSON.stringify({ error: (error as Error).message }));
  else console.error(`imagectl ${name}: ${(error as Error).message}`);
}

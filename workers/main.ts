// Worker entry point.
//   --role orchestrator                 workflows + central activities on IMAGE_TASK_QUEUE
//   --role iscsi-server --server NAME   the agent on one iSCSI server, polling that server's queue
import { parseArgs } from 'node:util';
import { SettingsError } from '../settings/load';
import { runIscsiServerAgent } from './iscsiServerAgent';
import { runOrchestrator } from './orchestrator';

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    server: { type: 'string' },
    'task-queue': { type: 'string' },
  },
});

try {
  if (values.role === 'orchestrator') {
    await runOrchestrator({ taskQueue: values['task-queue'] });
  } else if (values.role === 'iscsi-server' && values.server) {
    await runIscsiServerAgent({ server: values.server });
  } else {
    console.error('usage: workers/main.ts --role orchestrator [--task-queue Q] | --role iscsi-server --server NAME');
    process.exitCode = 2;
  }
} catch (error) {
  if (!(error instanceof SettingsError)) throw error;
  console.error(error.message);
  process.exitCode = 2;
}

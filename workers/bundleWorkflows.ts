// Bundles the workflow code once, at image build time: `tsx workers/bundleWorkflows.ts OUT.js`. An
// orchestrator worker given the file (WORKFLOW_BUNDLE) starts without bundling, and every replica of a
// deployment runs byte-identical workflow code.
import { bundleWorkflowCode } from '@temporalio/worker';
import fs from 'node:fs';
import { workflowsPath } from './orchestrator';

const out = process.argv[2];
if (!out) {
  console.error('usage: tsx workers/bundleWorkflows.ts OUT.js');
  process.exit(2);
}
const { code } = await bundleWorkflowCode({ workflowsPath });
fs.writeFileSync(out, code);
console.log(`workflow bundle: ${out} (${code.length} bytes)`);

// Runs the suite with vitest and ends with one plain summary line that CI can read.
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { stateDir } from './config';

const report = path.join(stateDir, 'vitest-report.json');
fs.rmSync(report, { force: true });
const run = await execa('vitest', ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)], {
  stdio: 'inherit',
  reject: false,
});
const summary = fs.existsSync(report) ? JSON.parse(fs.readFileSync(report, 'utf8')) : undefined;
if (summary) {
  const skipped = summary.numPendingTests + summary.numTodoTests;
  console.log(`vitest: ${summary.numPassedTests} passed, ${summary.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`);
}
process.exit(run.exitCode ?? 1);

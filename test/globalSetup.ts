// The integration suite runs against the dev stack: refuse to start when it is not up.
import { execa } from 'execa';

export default async function setup() {
  const status = await execa('tsx', ['dev/stack.ts', 'status'], { reject: false });
  if (status.exitCode !== 0) {
    throw new Error(`the dev stack is not healthy; start it with 'npm start'.\n${status.stdout}`);
  }
}

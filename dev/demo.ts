// npm run demo: the image path on a generated sample image, through the real dev stack.
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import path from 'node:path';
import { devStack, stateDir } from './config';
import { makeSampleImage } from './sampleImage';

const started = Date.now();
const image = await makeSampleImage(path.join(stateDir, 'sample'), { label: 'demo' });
const connection = await Connection.connect({ address: devStack.temporal.address });
const client = new Client({ connection, namespace: devStack.temporal.namespace });
const workflowId = `demo-import-${new Date().toISOString().replace(/[:.]/g, '-')}`;
const uiLink = `${devStack.temporal.uiUrl}/namespaces/${devStack.temporal.namespace}/workflows/${workflowId}`;

console.log(`demo: importing a sample image (${path.relative(process.cwd(), image.rootfs)}) as ${workflowId}`);
try {
  const result = await client.workflow.execute('importImage', {
    taskQueue: devStack.temporal.taskQueue,
    workflowId,
    args: [{ name: 'demo-compute', rootfs: { file: image.rootfs }, kernel: { file: image.kernel }, initrd: { file: image.initrd }, partSizeMiB: 5 }],
  });
  const { imageId, manifest, artifacts } = result as { imageId: string; manifest: { path: string; etag: string }; artifacts: { type: string; link: { path: string; etag: string }; md5: string }[] };
  console.log(`
┌ demo finished in ${((Date.now() - started) / 1000).toFixed(1)}s
│ workflow   ${workflowId}
│ UI         ${uiLink}
│ IMS image  ${imageId}
│ manifest   ${manifest.path}  etag ${manifest.etag}
${artifacts.map((a) => `│   ${a.type.replace('application/vnd.cray.image.', '').padEnd(16)} ${a.link.path}  etag ${a.link.etag}`).join('\n')}
│ history    npx imagectl history ${workflowId}
└ the stack stays up for the UI; stop it with: npm stop`);
} catch (error) {
  const cause = error instanceof WorkflowFailedError ? (error.cause as Error) : (error as Error);
  console.error(`demo failed: ${cause?.message}\n  UI: ${uiLink}\n  history: npx imagectl history ${workflowId}`);
  process.exitCode = 1;
} finally {
  await connection.close();
}

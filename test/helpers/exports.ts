// Removes what a test exported on the dev stack's tgtd servers, straight through the tgt driver and the
// agents' own records (dev/services.ts), as the agents would.
import os from 'node:os';
import path from 'node:path';
import { localRunner } from '../../activities/export/commandRunner';
import { fileSecretResolver } from '../../activities/export/secrets';
import { createTgtDriver } from '../../activities/tgt/driver';
import { devStack, stateDir } from '../../dev/config';
import { lunIdentity, type ArtifactLink } from '../../lib/lunIdentity';

export const devStackTgtDriver = (server: (typeof devStack.iscsiServers)[number]) =>
  createTgtDriver({
    server: server.name,
    controlPort: server.controlPort,
    runner: localRunner(),
    secrets: fileSecretResolver(os.tmpdir()),
    recordFile: path.join(stateDir, 'iscsi-state', server.name, 'tgt-exports.json'),
  });

export async function removeDevStackExports(links: (ArtifactLink & { targetIqn?: string })[]): Promise<void> {
  for (const server of devStack.iscsiServers) {
    const driver = devStackTgtDriver(server);
    for (const link of links) await driver.removeExport({ identity: lunIdentity(link), targetIqn: link.targetIqn });
  }
}

// Removes what a test exported on the dev stack's tgtd servers, straight through the tgt driver.
import os from 'node:os';
import { localRunner } from '../../activities/export/commandRunner';
import { fileSecretResolver } from '../../activities/export/secrets';
import { createTgtDriver } from '../../activities/tgt/driver';
import { devStack } from '../../dev/config';
import { lunIdentity, type ArtifactLink } from '../../lib/lunIdentity';

export async function removeDevStackExports(links: ArtifactLink[]): Promise<void> {
  for (const server of devStack.iscsiServers) {
    const driver = createTgtDriver({ server: server.name, controlPort: server.controlPort, runner: localRunner(), secrets: fileSecretResolver(os.tmpdir()) });
    for (const link of links) await driver.removeExport(lunIdentity(link));
  }
}

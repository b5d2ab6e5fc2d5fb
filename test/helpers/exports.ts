// Removes what a test exported on the dev stack's tgtd servers, straight through the tgt driver.
import os from 'node:os';
import { execa } from 'execa';
import { localRunner } from '../../activities/export/commandRunner';
import { fileSecretResolver } from '../../activities/export/secrets';
import { createTgtDriver } from '../../activities/tgt/driver';
import { showTargets } from '../../activities/tgt/tgtadm';
import { devStack } from '../../dev/config';
import { lunIdentity, type ArtifactLink } from '../../lib/lunIdentity';

export async function removeDevStackExports(links: ArtifactLink[]): Promise<void> {
  for (const server of devStack.iscsiServers) {
    const driver = createTgtDriver({ server: server.name, controlPort: server.controlPort, runner: localRunner(), secrets: fileSecretResolver(os.tmpdir()) });
    for (const link of links) await driver.removeExport(lunIdentity(link));
  }
}

/**
 * tgt binds ACLs to the whole target, so a test's `generate-node-acls` export (tgt's ALL) opens every
 * LUN of the dev stack's targets to anyone until unbound; tests that check who is refused start here.
 */
export async function revokeOpenAccess(): Promise<void> {
  for (const server of devStack.iscsiServers) {
    for (const target of await showTargets(server.controlPort)) {
      if (!target.acls.includes('ALL')) continue;
      await execa('tgtadm', ['--lld', 'iscsi', '-C', String(server.controlPort), '--mode', 'target', '--op', 'unbind', '--tid', String(target.tid), '--initiator-address', 'ALL']);
    }
  }
}

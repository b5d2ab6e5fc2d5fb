// Removes what a test exported on the dev stack's tgtd servers, through the driver each agent runs,
// wired from the agent's own environment (its record included), as the agent would remove it.
import { targetDriverFromEnv } from '../../activities/export/activities';
import { devStack } from '../../dev/config';
import { agentEnvironment } from '../../dev/services';
import { lunIdentity, type ArtifactLink } from '../../lib/lunIdentity';

export async function removeDevStackExports(links: (ArtifactLink & { targetIqn?: string })[]): Promise<void> {
  for (const server of devStack.iscsiServers) {
    const driver = targetDriverFromEnv(server.name, agentEnvironment(server));
    for (const link of links) await driver.removeExport({ identity: lunIdentity(link), targetIqn: link.targetIqn });
  }
}

import { showTargets } from './tgtadm';

/** Activities that run on an iSCSI server's own agent, against its local tgtd. */
export function createTgtActivities(settings: { server: string; controlPort: number }) {
  return {
    async listTargets(): Promise<{ server: string; targets: string[] }> {
      const targets = await showTargets(settings.controlPort);
      return { server: settings.server, targets: targets.map((t) => t.iqn) };
    },
  };
}

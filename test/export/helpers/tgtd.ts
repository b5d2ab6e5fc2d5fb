// A private tgtd for one test file, on its own loopback address and control port, so the tests own
// every target on it and never disturb the dev stack's two servers.
import { execa } from 'execa';
import { parseTargets, tgtadm } from '../../../activities/tgt/tgtadm';

export interface PrivateTgtd {
  address: string;
  port: number;
  controlPort: number;
  stop(): Promise<void>;
  /** SIGKILL, as a crash would end it: its targets are gone with it. */
  kill(): Promise<void>;
}

export async function startTgtd(controlPort: number, address = `127.0.0.${controlPort}`): Promise<PrivateTgtd> {
  await stopTgtd(controlPort); // a leftover from an interrupted run of this same file
  const daemon = execa('/usr/sbin/tgtd', ['-f', '-C', String(controlPort), '--iscsi', `portal=${address}:3260`], { reject: false });
  let exited = false;
  void daemon.finally(() => (exited = true));
  for (let tries = 0; ; tries++) {
    if ((await tgtadm(controlPort, ['--op', 'show', '--mode', 'sys']).catch(() => null))?.exitCode === 0) break;
    if (tries > 50 || exited) throw new Error(`tgtd -C ${controlPort} did not start: ${exited ? (await daemon).stderr : "no answer on its control port"}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    address,
    port: 3260,
    controlPort,
    stop: async () => {
      await stopTgtd(controlPort);
      await daemon;
    },
    kill: async () => {
      daemon.kill('SIGKILL');
      await daemon;
    },
  };
}

/** tgtd ignores SIGTERM; offline, delete its targets (system delete refuses while any exist), then the system. */
async function stopTgtd(controlPort: number) {
  const shown = await tgtadm(controlPort, ['--op', 'show', '--mode', 'target']).catch(() => null);
  if (!shown) return;
  await tgtadm(controlPort, ['--op', 'update', '--mode', 'sys', '--name', 'State', '-v', 'offline']);
  for (const target of parseTargets(shown.stdout)) {
    await tgtadm(controlPort, ['--op', 'delete', '--mode', 'target', '--tid', String(target.tid), '--force']);
  }
  await execa('tgtadm', ['-C', String(controlPort), '--op', 'delete', '--mode', 'system', '--force']);
}

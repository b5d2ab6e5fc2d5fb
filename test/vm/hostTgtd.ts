// A tgtd on the host, for node guests to log in to through a guestfwd: its own portal address and
// control port, kept by process handle, stopped the only way tgtd stops (DESIGN §4).
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { showTargets, tgtadm } from '../../activities/tgt/tgtadm';

export interface HostTgtd {
  address: string;
  port: number;
  controlPort: number;
  stop(): Promise<void>;
}

/**
 * `offline`: the system is offline before its portal opens (tgtd starts on a placeholder port, set offline,
 * then given its portal), as a restarted server is until its agent's restore sets it ready: initiators
 * logging in again get a retryable target error, never "target not found" from a tgtd not yet restored.
 */
export async function startHostTgtd(settings: { address: string; controlPort: number; port?: number; offline?: boolean }): Promise<HostTgtd> {
  const { address, controlPort, port = 3260, offline = false } = settings;
  // A tgtd left by an interrupted run would answer in place of this one (which could not bind).
  if ((await execa('tgtadm', ['-C', String(controlPort), '--op', 'show', '--mode', 'sys'], { reject: false })).exitCode === 0) {
    throw new Error(`a tgtd already answers on control port ${controlPort} (left by an interrupted run?): stop it with tgtadm -C ${controlPort} (State offline, delete its targets --force, delete the system --force)`);
  }
  const portal = `${address}:${offline ? port + 1 : port}`;
  const daemon = execa('/usr/sbin/tgtd', ['-f', '-C', String(controlPort), '--iscsi', `portal=${portal}`], { reject: false, all: true, stdin: 'ignore' });
  let exited = false;
  void daemon.then(() => (exited = true));

  async function stop(): Promise<void> {
    if (exited) return;
    // tgtd ignores SIGTERM: offline, each target deleted (the system delete refuses while any exist), then the system.
    await tgtadm(controlPort, ['--op', 'update', '--mode', 'sys', '--name', 'State', '-v', 'offline']);
    for (const target of await showTargets(controlPort)) {
      await tgtadm(controlPort, ['--op', 'delete', '--mode', 'target', '--tid', String(target.tid), '--force']);
    }
    await tgtadm(controlPort, ['--op', 'delete', '--mode', 'system', '--force']);
    await daemon;
  }

  for (let tries = 0; ; tries++) {
    if (exited) throw new Error(`tgtd on ${address}:${port} (control port ${controlPort}) exited at start: ${String((await daemon).all).trim()}`);
    const probe = await execa('tgtadm', ['-C', String(controlPort), '--op', 'show', '--mode', 'sys'], { reject: false });
    if (probe.exitCode === 0) break;
    if (tries === 50) {
      daemon.kill('SIGKILL');
      throw new Error(`tgtd on ${address}:${port} (control port ${controlPort}) did not answer tgtadm within 10 s: ${probe.stderr}`);
    }
    await delay(200);
  }
  if (offline) {
    await tgtadm(controlPort, ['--op', 'update', '--mode', 'sys', '--name', 'State', '-v', 'offline']);
    await tgtadm(controlPort, ['--op', 'new', '--mode', 'portal', '--param', `portal=${address}:${port}`]);
    await tgtadm(controlPort, ['--op', 'delete', '--mode', 'portal', '--param', `portal=${portal}`]);
  }
  return { address, port, controlPort, stop };
}

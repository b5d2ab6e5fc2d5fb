// Starts a QEMU guest of the VM tier (README.md beside this file): Debian's kernel, our initramfs, the
// host's root read-only over 9p, the guest's own state directory read-write, QEMU user networking with
// forwards on loopback addresses only. Ready once `ssh true` succeeds; the QEMU child is kept by handle,
// so stop() ends exactly the process it started.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { execa, type Result, type ResultPromise } from 'execa';
import { sshRunner, type RunOptions } from '../../activities/export/commandRunner';
import { findKernel, qemuBinary, requireHostTools } from './hostTools';
import { buildInitramfs } from './initramfs';
import { harnessKeys } from './sshKeys';

export type GuestRole = 'lio' | 'node';

/** A host address:port forwarded into the guest (`hostfwd`): how the host reaches a guest's service. */
export interface HostForward {
  address: string;
  port: number;
  guestPort: number;
}

/**
 * A guest-side address:port whose connections reach a host address:port (`guestfwd` running one socat
 * per connection): how a guest reaches a portal on the host.
 */
export interface GuestForward {
  guestAddress: string;
  guestPort: number;
  hostAddress: string;
  hostPort: number;
}

export interface GuestOptions {
  /** Host name of the guest; also names its initiator (`iqn.2024-01.org.vm-tier:<name>`) unless given. */
  name: string;
  role: GuestRole;
  /**
   * Boots this initramfs instead of the harness's: no host root, no state directory in the guest, none of
   * the harness's vm.* parameters; the guest is what that initramfs makes of it (kernelArgs are its command
   * line). Ready once its sshd answers the harness's key.
   */
  initrd?: string;
  /** With `initrd`: boots this kernel image (the image's own, say) instead of the host's; it must be the host's kernel version (the harness's modules). */
  kernel?: string;
  /** Persistent across reboots (mounted read-write at /vm-state in the guest). */
  stateDir: string;
  memoryMiB?: number;
  /** Where the host reaches the guest's sshd (forwarded to the guest's port 22). */
  ssh: { address: string; port: number };
  hostForwards?: HostForward[];
  guestForwards?: GuestForward[];
  kernelArgs?: string[];
  initiatorName?: string;
  bootTimeoutMs?: number;
}

export interface Guest {
  readonly name: string;
  readonly sshDestination: string;
  /** ssh's options before the destination: port, identity, no host key checks, batch mode. */
  readonly sshOptions: string[];
  readonly consoleLog: string;
  /** Wall time of the latest boot, from QEMU's start to SSH answering. */
  readonly bootSeconds: number;
  /** Runs argv in the guest over SSH; rejects with CommandFailed (exit code, stderr) on failure. */
  run(argv: string[], options?: RunOptions): Promise<{ stdout: string; stderr?: string }>;
  /** Clean power-off (the guest's init stops its services and unmounts its state), QEMU killed after 60 s. */
  stop(): Promise<void>;
  /** Ends QEMU at once: for a guest whose system has nothing to shut down (a booted image that only reads). */
  kill(): Promise<void>;
  /** Whether QEMU exits (the guest powered itself off) within `timeoutMs`. */
  poweredOff(timeoutMs: number): Promise<boolean>;
  /** stop(), then a new boot on the same state directory. */
  reboot(): Promise<void>;
}

const guestInit = fileURLToPath(new URL('./guest/init.sh', import.meta.url));

function tail(file: string, lines = 40): string {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function qemuArgv(options: GuestOptions, kernel: { version: string; image: string }, initramfs: string, consoleLog: string): string[] {
  const initiator = options.initiatorName ?? `iqn.2024-01.org.vm-tier:${options.name}`;
  const forwards = [
    `hostfwd=tcp:${options.ssh.address}:${options.ssh.port}-:22`,
    ...(options.hostForwards ?? []).map((f) => `hostfwd=tcp:${f.address}:${f.port}-:${f.guestPort}`),
    ...(options.guestForwards ?? []).map((f) => `guestfwd=tcp:${f.guestAddress}:${f.guestPort}-cmd:socat - TCP:${f.hostAddress}:${f.hostPort}`),
  ];
  const harness = options.initrd ? [] : [`vm.init=${guestInit}`, `vm.role=${options.role}`, `vm.hostname=${options.name}`, `vm.initiator=${initiator}`];
  const append = [
    'console=ttyS0',
    'net.ifnames=0',
    // A panic ends QEMU at once (-no-reboot) instead of hanging until the boot deadline.
    'panic=-1',
    ...harness,
    ...(options.kernelArgs ?? []),
  ];
  const shares = options.initrd
    ? []
    : ['-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap', '-virtfs', `local,path=${options.stateDir},mount_tag=vmstate,security_model=none,multidevs=remap`];
  return [
    '-accel', 'tcg,thread=multi',
    '-cpu', 'max',
    '-smp', '2',
    '-m', String(options.memoryMiB ?? 1024),
    '-nographic',
    // No VGA, CD-ROM, floppy or parallel port: under emulation, each costs udev and the kernel seconds.
    '-nodefaults',
    '-no-reboot',
    '-monitor', 'none',
    '-serial', `file:${consoleLog}`,
    '-kernel', kernel.image,
    '-initrd', initramfs,
    '-append', append.join(' '),
    ...shares,
    // restrict=on: the guest reaches nothing but its guestfwd addresses (hostfwd still comes in).
    '-netdev', ['user', 'id=net0', 'restrict=on', ...forwards].join(','),
    // romfile= (none): no iPXE option ROM to initialize; the guest boots from -kernel.
    '-device', 'virtio-net-pci,netdev=net0,romfile=',
  ];
}

export async function startGuest(options: GuestOptions): Promise<Guest> {
  await requireHostTools();
  const kernel = options.kernel ? { ...findKernel(), image: options.kernel } : findKernel();
  const initramfs = options.initrd ?? (await buildInitramfs(kernel.version));
  const keys = await harnessKeys();
  const stateDir = path.resolve(options.stateDir);
  if (stateDir.includes(',')) throw new Error(`VM tier: a state directory cannot contain a comma (QEMU option syntax): ${stateDir}`);
  fs.mkdirSync(path.join(stateDir, 'ssh'), { recursive: true });
  fs.copyFileSync(keys.hostKey, path.join(stateDir, 'ssh/host_ed25519_key'));
  fs.copyFileSync(keys.publicKey, path.join(stateDir, 'ssh/authorized_keys'));
  fs.chmodSync(path.join(stateDir, 'ssh/host_ed25519_key'), 0o600);

  const consoleLog = path.join(stateDir, 'console.log');
  const sshDestination = `root@${options.ssh.address}`;
  const sshOptions = [
    '-p', String(options.ssh.port),
    '-i', keys.identity,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes',
    '-o', 'LogLevel=ERROR',
  ];
  const runner = sshRunner(sshDestination, sshOptions);
  const argv = qemuArgv({ ...options, stateDir }, kernel, initramfs, consoleLog);

  let qemu: ResultPromise<{ reject: false; all: true; stdin: 'ignore' }> | undefined;
  let exited: Result | undefined;
  let bootSeconds = 0;

  const failure = (reason: string) => new Error(`VM guest ${options.name}: ${reason}\n--- console (${consoleLog}), last lines:\n${tail(consoleLog)}`);

  /** The harness's init and the node initramfs (node/initramfs/bootimg-root) print one FAILED line each. */
  function throwIfInitFailed(): void {
    const failed = fs.existsSync(consoleLog) && fs.readFileSync(consoleLog, 'utf8').match(/^(vm-init|bootimg): FAILED: .*$/gm);
    if (failed) throw failure(`its init failed: ${failed.join('; ')}`);
  }

  async function waitUntilReady(): Promise<void> {
    const deadline = Date.now() + (options.bootTimeoutMs ?? 300_000);
    for (;;) {
      if (exited) throw failure(`QEMU exited during boot (${exited.exitCode ?? exited.signal}): ${String(exited.all ?? '').trim() || 'no output'}`);
      throwIfInitFailed();
      const probe = await execa('ssh', [...sshOptions, '-o', 'ConnectTimeout=5', sshDestination, 'true'], { reject: false, stdin: 'ignore', timeout: 20_000 });
      if (probe.exitCode === 0) break;
      if (Date.now() > deadline) throw failure(`SSH on ${options.ssh.address}:${options.ssh.port} did not answer within ${(options.bootTimeoutMs ?? 300_000) / 1000} s`);
      await delay(1000);
    }
    throwIfInitFailed();
  }

  async function kill(): Promise<void> {
    if (!qemu || exited) return;
    qemu.kill('SIGKILL');
    await qemu;
  }

  async function boot(): Promise<void> {
    const started = performance.now();
    exited = undefined;
    qemu = execa(qemuBinary, argv, { reject: false, all: true, stdin: 'ignore' });
    void qemu.then((result) => (exited = result));
    try {
      await waitUntilReady();
    } catch (error) {
      await kill();
      throw error;
    }
    bootSeconds = (performance.now() - started) / 1000;
  }

  async function stop(): Promise<void> {
    if (!qemu || exited) return;
    await runner.run(['kill', '-TERM', '1']).catch(() => undefined);
    const poweredOff = await Promise.race([qemu.then(() => true), delay(60_000, false, { ref: false })]);
    if (!poweredOff) await kill();
  }

  await boot();
  return {
    name: options.name,
    sshDestination,
    sshOptions,
    consoleLog,
    get bootSeconds() {
      return bootSeconds;
    },
    run: (command, runOptions) => runner.run(command, runOptions),
    stop,
    kill,
    poweredOff: async (timeoutMs) => !qemu || Boolean(exited) || Promise.race([qemu.then(() => true), delay(timeoutMs, false, { ref: false })]),
    async reboot() {
      await stop();
      await boot();
    },
  };
}

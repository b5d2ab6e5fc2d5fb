// A private OpenSSH server on a loopback address, for tests of the agent-less mode: host and client
// keys generated for the run, root logins with that key only. The key is restricted with `command=`
// (as the export README recommends) to a wrapper that logs each command and runs it under umask 000,
// so a test can tell what went over SSH and that modes do not depend on the remote umask.
import { execa, type ResultPromise } from 'execa';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sshRunner, type CommandRunner } from '../../../activities/export/commandRunner';

export interface PrivateSshd {
  destination: string;
  runner: CommandRunner;
  /** The commands the server ran, one per line, in order. */
  commands(): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startSshd(address: string): Promise<PrivateSshd> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sshd-'));
  const file = (name: string) => path.join(dir, name);
  for (const key of ['host', 'client']) await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `test-${key}`, '-f', file(key)]);
  await writeFile(file('commands.log'), '');
  await writeFile(
    file('session.sh'),
    ['#!/bin/sh', 'umask 000', `printf '%s\\n' "$SSH_ORIGINAL_COMMAND" >> ${file('commands.log')}`, 'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"', ''].join('\n'),
    { mode: 0o700 },
  );
  await writeFile(file('authorized_keys'), `command="${file('session.sh')}",no-pty,no-port-forwarding ${(await readFile(file('client.pub'), 'utf8')).trim()}\n`);
  await writeFile(
    file('sshd_config'),
    [
      `ListenAddress ${address}:22`,
      `HostKey ${file('host')}`,
      `AuthorizedKeysFile ${file('authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no', // the temporary directory is under a world-writable /tmp
      'PidFile none',
      '',
    ].join('\n'),
  );
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege separation directory
  const daemon: ResultPromise = execa('/usr/sbin/sshd', ['-D', '-e', '-f', file('sshd_config')], { reject: false, stdin: 'ignore' });
  const destination = `root@${address}`;
  const runner = sshRunner(destination, [
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR',
    '-i', file('client'),
  ]);
  let exited = false;
  void daemon.finally(() => (exited = true));
  for (let tries = 0; ; tries++) {
    if ((await runner.run(['true']).catch(() => null)) !== null) break;
    if (tries > 50 || exited) {
      daemon.kill();
      throw new Error(`sshd on ${address} did not start: ${(await daemon).stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await writeFile(file('commands.log'), '');
  return {
    destination,
    runner,
    commands: async () => (await readFile(file('commands.log'), 'utf8')).split('\n').filter(Boolean),
    stop: async () => {
      daemon.kill('SIGTERM');
      await daemon;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

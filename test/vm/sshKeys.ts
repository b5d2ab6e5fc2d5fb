// The harness's SSH keys, made once with ssh-keygen under .dev/vm/ssh: the client identity the tests log in
// with, and the host key every guest's sshd presents (clients skip host key checks: guests are throwaway).
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { vmDir } from './hostTools';

export interface HarnessKeys {
  identity: string;
  publicKey: string;
  hostKey: string;
}

const keyDir = path.join(vmDir, 'ssh');

async function ensureKey(file: string, comment: string): Promise<void> {
  if (!fs.existsSync(file)) {
    // ssh-keygen asks before overwriting: write beside, then rename (two guests may start at once).
    const partial = `${file}.${process.pid}`;
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', partial]);
    fs.renameSync(`${partial}.pub`, `${file}.pub`);
    fs.renameSync(partial, file);
  }
  fs.chmodSync(file, 0o600);
}

export async function harnessKeys(): Promise<HarnessKeys> {
  fs.mkdirSync(keyDir, { recursive: true, mode: 0o700 });
  const identity = path.join(keyDir, 'id_ed25519');
  const hostKey = path.join(keyDir, 'guest_host_ed25519');
  await ensureKey(identity, 'vm-tier harness');
  await ensureKey(hostKey, 'vm-tier guest');
  return { identity, publicKey: `${identity}.pub`, hostKey };
}

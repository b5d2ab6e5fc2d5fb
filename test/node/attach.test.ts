// The attach phase's push, run locally: what a node's initramfs finds in /dev/shm.
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { localRunner, type CommandRunner } from '../../activities/export/commandRunner';
import { nodeSecretPath, pushChap, pushKey } from '../../activities/node/attach';

const run = `attach-test-${randomUUID().slice(0, 8)}`;
afterEach(() => fs.rmSync(`/dev/shm/${run}`, { recursive: true, force: true }));

/** The local runner, recording every argv it is given. */
function recordingRunner(): CommandRunner & { argvs: string[][] } {
  const local = localRunner();
  const argvs: string[][] = [];
  const run: CommandRunner['run'] = (argv, options) => {
    argvs.push(argv);
    return local.run(argv, options);
  };
  return { where: local.where, argvs, run };
}

describe('pushKey and pushChap', () => {
  it('write the secret 0600 at /dev/shm/<reference> through stdin, nothing else left, the secret in no argv', async () => {
    const runner = recordingRunner();
    const key = Buffer.from('k'.repeat(86));
    await pushKey(runner, `${run}/luks-1`, key);
    await pushChap(runner, `${run}/chap`, { user: 'node-user', password: 'chap-secret' });
    expect(fs.readFileSync(`/dev/shm/${run}/luks-1`, 'utf8')).toBe(key.toString());
    expect(fs.readFileSync(`/dev/shm/${run}/chap`, 'utf8')).toBe('username=node-user\npassword=chap-secret\n');
    expect(fs.statSync(`/dev/shm/${run}/luks-1`).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(`/dev/shm/${run}`).sort()).toEqual(['chap', 'luks-1']);
    expect(runner.argvs.flat().join(' ')).not.toMatch(/kkkk|chap-secret/);
  });

  it('pushKey writes a binary key byte for byte', async () => {
    const key = Buffer.from(Array.from({ length: 256 }, (_, byte) => byte));
    await pushKey(localRunner(), `${run}/binary`, key);
    expect(fs.readFileSync(`/dev/shm/${run}/binary`).equals(key)).toBe(true);
  });

  it('refuse a reference that leaves /dev/shm', () => {
    expect(() => nodeSecretPath('../etc/shadow')).toThrow(/cannot name a file under \/dev\/shm/);
    expect(() => nodeSecretPath('keys/.hidden')).toThrow(/cannot name a file/);
    expect(nodeSecretPath('vault:boot-images/ocean-2026')).toBe('/dev/shm/vault:boot-images/ocean-2026');
  });
});

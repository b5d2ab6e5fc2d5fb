// A CFS configuration layer as a real local git repository with one playbook (the demo and the tests).
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';

export async function makeLayerRepo(name: string, tasks: object[]): Promise<{ cloneUrl: string; commit: string; playbook: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `layer-${name}-`));
  const git = (...args: string[]) => execa('git', ['-C', dir, '-c', 'user.email=cfs@test', '-c', 'user.name=cfs-test', ...args]);
  await git('init', '--quiet', '--initial-branch=main');
  fs.writeFileSync(path.join(dir, 'site.yml'), stringify([{ hosts: 'Compute', tasks }]));
  await git('add', 'site.yml');
  await git('commit', '--quiet', '-m', `layer ${name}`);
  return { cloneUrl: `file://${dir}`, commit: (await git('rev-parse', 'HEAD')).stdout.trim(), playbook: 'site.yml' };
}

// The dev stack's Ceph RGW: a one-node Ceph cluster (monitor, one memstore OSD, radosgw) built fresh
// under .dev/ceph each time it starts, run as this process's children and stopped with it. One process
// for the stack to supervise: the three daemons only make sense together, and a memstore OSD's data
// does not outlive it, so a cluster with any daemon gone is rebuilt rather than repaired.
// Auth is off between the daemons (loopback only); S3 clients still sign with the stack's keys.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { devStack } from './config';
import { isRunning, sleep, waitUntil, type ProcessRecord } from './processes';
import { tcpOpen } from './services';

const { address, monPort, dir } = devStack.ceph;
const conf = path.join(dir, 'ceph.conf');
const childPidsFile = path.join(path.dirname(dir), 'pids', 'ceph-daemons.json');
const rgwName = 'client.rgw.devstack';
const rgwPort = Number(new URL(devStack.s3.endpoints.rgw).port);

function configuration(fsid: string): string {
  return `[global]
fsid = ${fsid}
mon host = v1:${address}:${monPort}
public addr = ${address}
# msgr2 refuses auth none: the daemons speak msgr1 only
ms bind msgr2 = false
auth cluster required = none
auth service required = none
auth client required = none
mon warn on insecure global id reclaim allowed = false
mon warn on pool no redundancy = false
mon allow pool size one = true
# the dev machine's disk is shared: warn or stop only when it is really full
mon data avail warn = 2
mon data avail crit = 1
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
# the OSD's own crush commands at start can race its first monmap (a zero fsid: 'wrong fsid', and it exits):
# it is placed in the crush map before it starts instead
osd crush update on start = false
osd class update on start = false
osd objectstore = memstore
memstore device bytes = ${8 * 1024 ** 3}
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
mon data = ${dir}/mon/$id
osd data = ${dir}/osd/$id
keyring = ${dir}/keyring
log to file = false
log to stderr = true
err to stderr = true

[${rgwName}]
rgw frontends = beast endpoint=${address}:${rgwPort}
rgw data = ${dir}/rgw
# memstore holds everything in memory: reclaim overwritten and deleted objects' data promptly
rgw gc obj min wait = 0
rgw gc processor period = 30
`;
}

const ceph = (...args: string[]) => execa('ceph', ['-c', conf, '--connect-timeout', '5', ...args]);

/** Daemons of a previous run whose supervisor was killed outright: stopped by PID before a new cluster. */
async function stopLeftovers(): Promise<void> {
  let records: ProcessRecord[] = [];
  try {
    records = JSON.parse(fs.readFileSync(childPidsFile, 'utf8'));
  } catch {
    return;
  }
  for (const record of records.filter(isRunning)) process.kill(record.pid, 'SIGKILL');
  await sleep(500);
  fs.rmSync(childPidsFile, { force: true });
}

const daemons: { name: string; child: ChildProcess }[] = [];

function startDaemon(name: string, argv: string[]): void {
  const child = spawn(argv[0], ['-c', conf, '-f', ...argv.slice(1)], { stdio: ['ignore', 'inherit', 'inherit'] });
  daemons.push({ name, child });
  fs.writeFileSync(childPidsFile, JSON.stringify(daemons.map(({ child }) => ({ pid: child.pid, argv: [child.spawnfile] }))));
  child.once('exit', (code, signal) => {
    if (stopping) return;
    console.error(`ceph: ${name} exited (${signal ?? code}): stopping the cluster`);
    void stop(1);
  });
}

let stopping = false;
async function stop(exitCode: number): Promise<void> {
  stopping = true;
  // radosgw first, while the OSD its shutdown talks to is still there; within the stack's 15 s for the
  // whole stop. The OSD's memstore would write every object to disk on a clean stop, for a cluster that
  // is never reused: killed.
  for (const { name, child } of [...daemons].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(name === 'osd' ? 'SIGKILL' : 'SIGTERM');
    if (!(await Promise.race([exited.then(() => true), sleep(4_000).then(() => false)]))) {
      child.kill('SIGKILL');
      await exited;
    }
  }
  fs.rmSync(childPidsFile, { force: true });
  process.exit(exitCode);
}

async function build(): Promise<void> {
  await stopLeftovers();
  fs.rmSync(dir, { recursive: true, force: true });
  for (const sub of ['run', 'mon/a', 'osd/0', 'rgw']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  fs.mkdirSync(path.dirname(childPidsFile), { recursive: true });
  const fsid = randomUUID();
  fs.writeFileSync(conf, configuration(fsid));

  const started = Date.now();
  const step = (what: string) => console.log(`ceph: ${what} after ${((Date.now() - started) / 1000).toFixed(1)}s`);
  const monmap = path.join(dir, 'monmap');
  await execa('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v1:${address}:${monPort}]`, monmap]);
  await execa('ceph-authtool', ['--create-keyring', path.join(dir, 'keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
  await execa('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', monmap]);
  startDaemon('mon', ['ceph-mon', '-i', 'a']);
  await waitUntil('ceph-mon', async () => (await ceph('mon', 'stat')).exitCode === 0, { timeoutMs: 30_000 });
  step('monitor up');

  const osdUuid = randomUUID();
  await ceph('osd', 'new', osdUuid, '0');
  await ceph('osd', 'crush', 'add', 'osd.0', '1', 'root=default', 'host=devstack');
  await execa('ceph-osd', ['-c', conf, '-i', '0', '--mkfs', '--osd-uuid', osdUuid]);
  startDaemon('osd', ['ceph-osd', '-i', '0']);
  await waitUntil('ceph-osd', async () => JSON.parse((await ceph('osd', 'stat', '-f', 'json')).stdout).num_up_osds === 1, { timeoutMs: 30_000 });
  step('OSD up');

  startDaemon('radosgw', ['radosgw', '-n', rgwName]);
  await waitUntil('radosgw', () => tcpOpen(address, rgwPort), { timeoutMs: 60_000 });
  // The stack's configured keys, so every S3 client of the stack works on either backend.
  const user = await execa('radosgw-admin', ['-c', conf, '-n', rgwName, 'user', 'create', '--uid', 'devstack-admin', '--display-name', 'dev stack',
    '--access-key', devStack.s3.accessKeyId, '--secret', devStack.s3.secretAccessKey], { reject: false });
  // execa's own error would quote the command line, secret included
  if (user.exitCode !== 0) throw new Error(`radosgw-admin user create failed (exit ${user.exitCode}): ${user.stderr.split('\n').at(-1)}`);
  step('radosgw up with the stack user');
}

process.once('SIGTERM', () => void stop(0));
process.once('SIGINT', () => void stop(0));
try {
  await build();
} catch (error) {
  console.error(`ceph: ${(error as Error).message}`);
  await stop(1);
}

// The validation's anchor: the same per-node, per-server checks as validateInitiators's libiscsi driver,
// as a plain shell loop (what an admin would script with xargs -P): login and the LUN listed, a wrong
// CHAP secret refused (with CHAP), the serial and NAA pages, the capacity, writes refused.
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';

export interface ShellLoopTargets {
  /** The initiator IQN of each node, as the nodes' pattern makes it. */
  initiators: string[];
  targets: { address: string; port: number; iqn: string }[];
  lun: number;
  sizeBytes: number;
  chap?: { user: string; password: string };
  /** Checks in flight at once (the validation's per-server concurrency × servers). */
  concurrency: number;
  /** Where the script and the CHAP file go. */
  dir: string;
}

const script = (lun: number, sizeBytes: number, chap: boolean) => `
set -u
me=$1; address=$2; port=$3; iqn=$4
url="iscsi://$address:$port"; lun="$url/$iqn/${lun}"
${chap ? 'export LIBISCSI_CHAP_USERNAME="$CHAP_USER" LIBISCSI_CHAP_PASSWORD="$CHAP_PASSWORD"' : ''}
iscsi-ls -s -i "$me" "$url" | grep -q "^Lun:${lun} " || { echo "FAIL $me $address login"; exit 0; }
${chap ? 'LIBISCSI_CHAP_PASSWORD=wrong-secret-123 iscsi-ls -s -i "$me" "$url" | grep -q "^Lun:" && echo "FAIL $me $address chap"' : ''}
iscsi-inq -i "$me" -e 1 -c 128 "$lun" | grep -q "Unit Serial Number" || echo "FAIL $me $address serial"
iscsi-inq -i "$me" -e 1 -c 131 "$lun" > /dev/null || echo "FAIL $me $address naa"
[ "$(iscsi-readcapacity16 -i "$me" "$lun" | sed -n 's/^Total size://p')" = "${sizeBytes}" ] || echo "FAIL $me $address size"
qemu-io -r ${chap ? '--object secret,id=chap0,file="$CHAP_FILE" ' : ''}--image-opts "driver=iscsi,transport=tcp,portal=$address:$port,target=$iqn,lun=${lun},initiator-name=$me${chap ? ',user=$CHAP_USER,password-secret=chap0' : ''}" -c 'read -v 0 4096' -c 'reopen -w' 2>&1 | grep -q 'write protected' || echo "FAIL $me $address write"
`;

/** Seconds the loop took; throws when any check failed. */
export async function validationShellLoop(run: ShellLoopTargets): Promise<number> {
  const file = path.join(run.dir, 'check.sh');
  const chapFile = path.join(run.dir, 'chap-file');
  fs.writeFileSync(file, script(run.lun, run.sizeBytes, Boolean(run.chap)));
  if (run.chap) fs.writeFileSync(chapFile, run.chap.password, { mode: 0o600 });
  const pairs = run.initiators.flatMap((me) => run.targets.map((t) => `${me} ${t.address} ${t.port} ${t.iqn}`)).join('\n');
  const started = performance.now();
  const result = await execa('xargs', ['-P', String(run.concurrency), '-L', '1', 'bash', file], {
    input: pairs,
    env: run.chap ? { CHAP_USER: run.chap.user, CHAP_PASSWORD: run.chap.password, CHAP_FILE: chapFile } : {},
  });
  const seconds = (performance.now() - started) / 1000;
  const failures = result.stdout.split('\n').filter((line) => line.startsWith('FAIL'));
  if (failures.length) throw new Error(`the shell loop found ${failures.length} failures, e.g. ${failures[0]}`);
  return seconds;
}

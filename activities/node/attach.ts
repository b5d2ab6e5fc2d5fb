// The attach phase's node side (node/README.md): a node waiting in its initramfs (node/initramfs/bootimg-root)
// gets its secrets pushed over SSH into /dev/shm, where the hook waits for them by the reference its boot
// parameters name. Values go through stdin, never argv; each file is written 0600 under another name and
// renamed, so the hook never reads half a secret.
import type { CommandRunner } from '../export/commandRunner';

/** A reference names a file under /dev/shm: relative, no component starting with a dot (so no ".."). */
const referencePattern = /^[A-Za-z0-9][A-Za-z0-9_:-]*(?:\.[A-Za-z0-9_:-]+)*(?:\/[A-Za-z0-9][A-Za-z0-9_:-]*(?:\.[A-Za-z0-9_:-]+)*)*$/;

export const nodeSecretPath = (reference: string): string => {
  if (!referencePattern.test(reference)) throw new Error(`secret reference ${JSON.stringify(reference)} cannot name a file under /dev/shm`);
  return `/dev/shm/${reference}`;
};

async function pushSecret(runner: CommandRunner, reference: string, value: string | Buffer): Promise<void> {
  const file = nodeSecretPath(reference);
  await runner.run(['sh', '-c', 'umask 077 && mkdir -p "${1%/*}" && cat > "$1.partial" && mv -f "$1.partial" "$1"', 'sh', file], { input: value, secrets: [value.toString()] });
}

/** The LUKS key, byte for byte (a site's key file may be binary), as `bootimg.luks.key=<reference>` makes the hook wait for it. */
export const pushKey = (runner: CommandRunner, keyRef: string, key: Buffer): Promise<void> => pushSecret(runner, keyRef, key);

interface ChapCredentials {
  user: string;
  password: string;
}

/**
 * The node's CHAP credentials, as `bootimg.iscsi.chap=<reference>` makes the hook wait for them; with
 * `mutual`, also the target's, which the node then requires the target to prove.
 */
export const pushChap = (runner: CommandRunner, chapRef: string, chap: ChapCredentials & { mutual?: ChapCredentials }): Promise<void> =>
  pushSecret(
    runner,
    chapRef,
    `username=${chap.user}\npassword=${chap.password}\n${chap.mutual ? `username_in=${chap.mutual.user}\npassword_in=${chap.mutual.password}\n` : ''}`,
  );

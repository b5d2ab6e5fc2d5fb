// Rewrites a BSS entry (kernel, initrd, params) to boot another image, changing only what points
// at the image and keeping every other token, its spelling and its place (seed 002 section 5 does
// this by hand with sed). Pure: workflows and activities import it.
//
// Tokens rewritten, every occurrence, on the kernel's side of a bare `--` only:
//   metal.server=<rootfs path>                                      NCNs (DESIGN §4)
//   root=sbps-s3:<rootfs path>:<rootfs etag>:<the rest, kept>        compute nodes, SBPS iSCSI root
//   root=craycps-s3:<rootfs path>:<rootfs etag>:<the rest, kept>     compute nodes, CPS/DVS root
// Other `root=` forms, and tokens that merely mention an image id, are left alone. Parameters of our
// own iSCSI + LUKS root, set (replacing every occurrence, or appended) only when given:
//   bootimg.iscsi.targets=<iqn>@<address>:<port>[,<iqn>@<address>:<port>...]
//       the target portals the initrd logs into; one per server portal, so multipath sees every path
//   bootimg.iscsi.chap=<reference>
//       which CHAP credentials the node logs in with: a reference the initrd waits for (pushed into
//       /dev/shm by the attach phase, node/README.md), never the secret
//   bootimg.lun.wwid=<wwid>
//       the WWID the LUN must have (SBPS scheme: 36001405 + sha224(path|etag)[0:25]); the initrd
//       refuses to mount a LUN with another identity
//   bootimg.luks.key=<key reference>
//       which key opens the LUKS container: a reference the initrd resolves, never key material
import type { IscsiBootSpec } from './specs/iscsiBootSpec';

/** The fields of a BSS entry that say what a node boots. */
export interface BootFields {
  kernel: string;
  initrd: string;
  params: string;
}

/** An image's artifacts as its manifest names them; the rootfs etag is S3's, as SBPS requires. */
export interface BootImage {
  imageId?: string;
  manifestPath: string;
  kernel: string;
  initrd: string;
  rootfs: { path: string; etag: string };
  /** The rootfs's LUKS container, when the image was encrypted: what an encrypted export serves. */
  luks?: { path: string; etag: string };
}

export interface BootChange {
  image: BootImage;
  iscsi?: IscsiBootSpec;
}

/** What changed: the fields before and after, and the params tokens replaced (before) by their new form or appended (after). */
export interface BootDiff {
  kernel?: { before: string; after: string };
  initrd?: { before: string; after: string };
  params: { before: string[]; after: string[] };
}

export interface Rewrite {
  entry: BootFields;
  diff: BootDiff;
  /** Why this entry cannot boot the image (nothing names the rootfs, an unreadable root=): a plan with problems is refused. */
  problems: string[];
}

export const bootParamNames = {
  iscsiTargets: 'bootimg.iscsi.targets',
  iscsiChap: 'bootimg.iscsi.chap',
  lunWwid: 'bootimg.lun.wwid',
  luksKey: 'bootimg.luks.key',
} as const;

interface Part {
  separator: string;
  token: string;
}

/** Splits params at whitespace outside double quotes, as the kernel does, keeping the separators. */
export function splitParams(params: string): { parts: Part[]; trailing: string } {
  const parts: Part[] = [];
  let separator = '';
  let token = '';
  let quoted = false;
  for (const ch of params) {
    if (/\s/.test(ch) && !quoted) {
      if (token) {
        parts.push({ separator, token });
        separator = '';
        token = '';
      }
      separator += ch;
    } else {
      if (ch === '"') quoted = !quoted;
      token += ch;
    }
  }
  if (token) parts.push({ separator, token });
  return { parts, trailing: token ? '' : separator };
}

export const paramTokens = (params: string) => splitParams(params).parts.map((part) => part.token);

/** The parameter name, without the quote a whole-token quoting (`"key=a b"`) starts with. */
export function tokenKey(token: string): string {
  const bare = token.startsWith('"') ? token.slice(1) : token;
  const eq = bare.indexOf('=');
  return eq < 0 ? bare.replace(/"$/, '') : bare.slice(0, eq);
}

/** The value with its quotes removed, or undefined for a bare flag. */
export function tokenValue(token: string): string | undefined {
  const eq = token.indexOf('=');
  if (eq < 0) return undefined;
  return token.slice(eq + 1).replace(/^"/, '').replace(/"$/, '');
}

/** The same token with another value, quoted as the old one was. */
function withValue(token: string, value: string): string {
  const eq = token.indexOf('=');
  const head = token.slice(0, eq + 1);
  const tail = token.slice(eq + 1);
  const open = tail.startsWith('"') ? '"' : '';
  const close = (open || head.startsWith('"')) && tail.length > open.length && tail.endsWith('"') ? '"' : '';
  return head + open + value + close;
}

const s3RootPattern = /^(sbps-s3|craycps-s3):(s3:\/\/[^:]+):([^:]*)(:.*)?$/;

/** The new value for a token that names the image, or a problem; undefined when the token is not the image's. */
function rewriteImageToken(key: string, value: string | undefined, image: BootImage): { value: string } | { problem: string } | undefined {
  if (key === 'metal.server' && value !== undefined) return { value: image.rootfs.path };
  if (key !== 'root' || value === undefined || !/^(sbps|craycps)-s3:/.test(value)) return undefined;
  const match = s3RootPattern.exec(value);
  if (!match) return { problem: `root=${value} is not <provider>:s3://<path>:<etag>[:...]` };
  const [, provider, , , rest] = match;
  return { value: `${provider}:${image.rootfs.path}:${image.rootfs.etag}${rest ?? ''}` };
}

function iscsiValues(iscsi: IscsiBootSpec | undefined): [string, string][] {
  if (!iscsi) return [];
  const values: [string, string | undefined][] = [
    [bootParamNames.iscsiTargets, iscsi.targets?.map((t) => `${t.iqn}@${t.address}:${t.port}`).join(',')],
    [bootParamNames.iscsiChap, iscsi.chapRef],
    [bootParamNames.lunWwid, iscsi.lunWwid],
    [bootParamNames.luksKey, iscsi.luksKeyRef],
  ];
  return values.filter((entry): entry is [string, string] => entry[1] !== undefined);
}

export function rewriteBootFields(before: BootFields, change: BootChange): Rewrite {
  const { image } = change;
  const { parts, trailing } = splitParams(before.params);
  const diff: BootDiff = { params: { before: [], after: [] } };
  const problems: string[] = [];
  const ours = new Map(iscsiValues(change.iscsi));
  const seen = new Set<string>();
  let rootfsTokens = 0;
  const initArgsAt = parts.findIndex((part) => part.token === '--');
  const kernelParts = initArgsAt < 0 ? parts.length : initArgsAt;

  const rewritten = parts.map((part, index) => {
    if (index >= kernelParts) return part;
    const key = tokenKey(part.token);
    const value = tokenValue(part.token);
    const imageToken = rewriteImageToken(key, value, image);
    let next: string | undefined;
    if (imageToken && 'problem' in imageToken) problems.push(imageToken.problem);
    else if (imageToken) {
      rootfsTokens++;
      next = withValue(part.token, imageToken.value);
    } else if (ours.has(key) && value !== undefined) {
      seen.add(key);
      next = withValue(part.token, ours.get(key)!);
    }
    if (next === undefined || next === part.token) return part;
    diff.params.before.push(part.token);
    diff.params.after.push(next);
    return { ...part, token: next };
  });
  const appended = [...ours].filter(([key]) => !seen.has(key)).map(([key, value]) => `${key}=${value}`);
  diff.params.after.push(...appended);
  const inserted = appended.map((token) => ({ separator: ' ', token }));
  if (kernelParts === 0 && inserted.length) {
    // Nothing before the insertion point: the new tokens take the leading whitespace, and what follows gets a space.
    inserted[0].separator = rewritten[0]?.separator ?? '';
    if (rewritten[0]) rewritten[0] = { ...rewritten[0], separator: ' ' };
  }
  rewritten.splice(kernelParts, 0, ...inserted);

  // Our own iSCSI + LUKS root names the image by its LUN's identity: the hook (node/) boots what carries it.
  const namedByLun = ours.has(bootParamNames.lunWwid);
  if (rootfsTokens === 0 && !namedByLun && !problems.length) problems.push('no token names the rootfs (metal.server=, root=sbps-s3:..., root=craycps-s3:..., or bootimg.lun.wwid= from an export)');
  if (before.kernel !== image.kernel) diff.kernel = { before: before.kernel, after: image.kernel };
  if (before.initrd !== image.initrd) diff.initrd = { before: before.initrd, after: image.initrd };
  const params = rewritten.map((part) => part.separator + part.token).join('') + trailing;
  return { entry: { kernel: image.kernel, initrd: image.initrd, params }, diff, problems };
}

export const isEmptyDiff = (diff: BootDiff) => !diff.kernel && !diff.initrd && diff.params.before.length === 0 && diff.params.after.length === 0;

/** Consecutive slices of at most `size` items. */
export function inBatches<T>(items: T[], size: number): T[][] {
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
  return batches;
}

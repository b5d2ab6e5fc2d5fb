// The names that reach targetcli and tgtadm, checked before anything runs: iSCSI names (RFC 3720
// §3.2.6), portal addresses and secret references. Anything outside these forms (a space, a newline,
// a shell metacharacter) is refused with the reason. Pure: workflows and zod schemas use it.

/**
 * `iqn.yyyy-mm.reversed.domain[:unique]`: lowercase letters, digits, '-', '.' and ':' only, and a domain
 * of two labels at least (LIO's rtslib refuses `iqn.2024-01.site:node` as "WWN not valid").
 */
const iqnForm = /^iqn\.[0-9]{4}-(0[1-9]|1[0-2])\.[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+(:[a-z0-9.:-]+)?$/;
const euiForm = /^eui\.[0-9A-F]{16}$/;
const naaForm = /^naa\.([0-9A-F]{16}|[0-9A-F]{32})$/;
export const maxIscsiNameBytes = 223;

/** Why `name` is not an iSCSI name, or undefined when it is one. */
export function iscsiNameProblem(name: string): string | undefined {
  if (name.length > maxIscsiNameBytes) return `${JSON.stringify(name.slice(0, 40))}... is longer than ${maxIscsiNameBytes} bytes`;
  if (iqnForm.test(name) || euiForm.test(name) || naaForm.test(name)) return undefined;
  if (name.startsWith('iqn.') && /[A-Z]/.test(name)) return `${JSON.stringify(name)} has upper-case letters (iSCSI names are lower case)`;
  return `${JSON.stringify(name)} is not an iSCSI name (iqn.yyyy-mm.reversed.domain[:name], with only a-z 0-9 - . :; or eui./naa.)`;
}

/** A label that can end an IQN: what a per-image target is called after its prefix. */
const labelForm = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;
export const iqnLabelProblem = (label: string): string | undefined =>
  labelForm.test(label) ? undefined : `${JSON.stringify(label)} is not usable in an iSCSI name (lower-case letters, digits, '-' and '.')`;

/** An image name made usable in an IQN: lower case, any other character becomes '-'. */
export const iqnLabelOf = (name: string): string =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[.-]+|[.-]+$/g, '') || 'image';

const ipv4 = /^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$/;
const ipv6 = /^[0-9a-fA-F:]+(%[A-Za-z0-9_.-]+)?$/;
const hostname = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$/;

/** Why `address` cannot be a portal address (IPv4, IPv6 or a host name), or undefined. */
export function portalAddressProblem(address: string): string | undefined {
  if (ipv4.test(address) || (address.includes(':') && ipv6.test(address)) || (hostname.test(address) && address.length <= 253)) return undefined;
  return `${JSON.stringify(address)} is not an IPv4 or IPv6 address or a host name`;
}

/** A reference into a secret store: a relative name such as `chap/compute`, never a path or a value. */
const secretRefForm = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;
export const secretRefProblem = (ref: string): string | undefined =>
  secretRefForm.test(ref) && ref.length <= 200
    ? undefined
    : `secret reference ${JSON.stringify(ref)} is not a relative name like "chap/compute"`;

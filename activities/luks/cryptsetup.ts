// The cryptsetup commands this module needs, on plain files (none of them needs device-mapper). Keys
// reach cryptsetup as files (--key-file, --volume-key-file), never in argv, so errors carry no secret.
import { execa } from 'execa';

export const CIPHER = 'aes-xts-plain64';
export const VOLUME_KEY_BITS = 512;

export type LuksVersion = 1 | 2;

/**
 * Overrides cryptsetup's PBKDF benchmark (LUKS2: argon2id, LUKS1: pbkdf2, about 2 s each) with pbkdf2 at
 * a fixed count. The key files are 512 random bits, so a slow KDF adds no strength; tests use this.
 */
export interface PbkdfOverride {
  pbkdf2Iterations: number;
}

export interface LuksHeader {
  version: LuksVersion;
  uuid: string;
  cipher: string;
  volumeKeyBits: number;
  sectorSize: number;
  /** Byte offset of the data segment in the container. */
  dataOffset: number;
}

export async function luksFormat(options: {
  container: string;
  version: LuksVersion;
  sectorSize: number;
  volumeKeyFile: string;
  keyFile: string;
  pbkdf?: PbkdfOverride;
  /** A detached header file: the data segment then starts at `container`'s first byte. */
  header?: string;
  /** Where the data segment starts (bytes, a multiple of 512), instead of cryptsetup's choice. */
  dataOffset?: number;
  cipher?: string;
}): Promise<void> {
  const { container, version, sectorSize, volumeKeyFile, keyFile, pbkdf, header, dataOffset, cipher = CIPHER } = options;
  const offset = header ? 0 : dataOffset;
  await cryptsetup([
    'luksFormat', '--batch-mode', '--type', `luks${version}`,
    '--cipher', cipher, '--key-size', String(VOLUME_KEY_BITS),
    '--volume-key-file', volumeKeyFile, '--key-file', keyFile,
    ...(version === 2 ? ['--sector-size', String(sectorSize)] : []),
    ...(pbkdf ? ['--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', String(pbkdf.pbkdf2Iterations)] : []),
    ...(header ? ['--header', header] : []),
    ...(offset === undefined ? [] : ['--offset', String(offset / 512)]),
    container,
  ]);
}

export async function luksDump(container: string): Promise<LuksHeader> {
  return parseLuksDump(await cryptsetup(['luksDump', container]));
}

/** Parses `cryptsetup luksDump` text of a LUKS1 header, or of a LUKS2 header with one data segment. */
export function parseLuksDump(text: string): LuksHeader {
  const field = (name: string, pattern: RegExp, within = text): string => {
    const match = pattern.exec(within);
    if (!match) throw new Error(`luksDump output lacks the ${name} field`);
    return match[1];
  };
  const version = Number(field('Version', /^Version:\s*(\d+)/m));
  const uuid = field('UUID', /^UUID:\s*(\S+)/m);
  if (version === 1) {
    return {
      version,
      uuid,
      cipher: `${field('Cipher name', /^Cipher name:\s*(\S+)/m)}-${field('Cipher mode', /^Cipher mode:\s*(\S+)/m)}`,
      volumeKeyBits: Number(field('MK bits', /^MK bits:\s*(\d+)/m)),
      sectorSize: 512,
      dataOffset: Number(field('Payload offset', /^Payload offset:\s*(\d+)/m)) * 512,
    };
  }
  if (version !== 2) throw new Error(`unsupported LUKS version ${version}`);
  const segments = text.slice(text.indexOf('Data segments:'), text.indexOf('Keyslots:'));
  if ((segments.match(/^\s+\d+: /gm) ?? []).length !== 1) throw new Error('expected exactly one LUKS2 data segment');
  return {
    version,
    uuid,
    cipher: field('segment cipher', /^\s+cipher:\s*(\S+)/m, segments),
    volumeKeyBits: Number(field('keyslot Key', /^\s+Key:\s*(\d+) bits/m)),
    sectorSize: Number(field('segment sector', /^\s+sector:\s*(\d+) \[bytes\]/m, segments)),
    dataOffset: Number(field('segment offset', /^\s+offset:\s*(\d+) \[bytes\]/m, segments)),
  };
}

/** Whether a key slot opens with the key file; cryptsetup exits 2 for "No key available with this passphrase". */
export async function testKeyFile(container: string, keyFile: string): Promise<boolean> {
  const result = await execa('cryptsetup', ['open', '--test-passphrase', '--key-file', keyFile, container], { reject: false });
  if (result.exitCode === 0) return true;
  if (result.exitCode === 2) return false;
  throw commandError(['open', '--test-passphrase', container], result.exitCode, result.stderr);
}

/** Has cryptsetup unlock a key slot and write the volume key to `output` (a path that must not exist). */
export async function dumpVolumeKey(container: string, keyFile: string, output: string): Promise<void> {
  await cryptsetup(['luksDump', '--batch-mode', '--dump-volume-key', '--volume-key-file', output, '--key-file', keyFile, container]);
}

/** Decrypts a LUKS2 data area in place, in userspace, described by a detached header (offset 0). */
export async function decryptOffline(data: string, header: string, keyFile: string): Promise<void> {
  await cryptsetup(['reencrypt', '--batch-mode', '--decrypt', '--force-offline-reencrypt', '--resilience', 'none', '--header', header, '--key-file', keyFile, data]);
}

async function cryptsetup(args: string[]): Promise<string> {
  const result = await execa('cryptsetup', args, { reject: false });
  if (result.exitCode !== 0) throw commandError(args, result.exitCode, result.stderr);
  return result.stdout;
}

const commandError = (args: string[], exitCode: number | undefined, stderr: string) =>
  new Error(`cryptsetup ${args.join(' ')} failed (exit ${exitCode ?? 'none'}): ${stderr.trim() || '(no stderr)'}`);

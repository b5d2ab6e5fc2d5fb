// Secrets are resolved on the server that needs them, from a reference. The file-backed store is the
// simplest; a Vault or Kubernetes implementation plugs in behind the same interface.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { FailureType, permanentFailure } from '../../lib/failures';

export interface SecretResolver {
  /** The secret's value; the error, if any, names the reference, never a value. */
  resolve(ref: string): Promise<string>;
}

const refPattern = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

/** `ref` `chap/compute` is the file `<dir>/chap/compute`; files must not be readable by group or others. */
export function fileSecretResolver(dir: string): SecretResolver {
  return {
    async resolve(ref) {
      if (!refPattern.test(ref)) throw permanentFailure(FailureType.InvalidInput, `secret reference ${JSON.stringify(ref)} is not a relative name like "chap/compute"`);
      const file = path.join(dir, ref);
      const info = await stat(file).catch(() => null);
      if (!info?.isFile()) throw permanentFailure(FailureType.InvalidInput, `secret ${ref} not found in the secret store`);
      if (info.mode & 0o077) throw permanentFailure(FailureType.InvalidInput, `secret ${ref} is readable by group or others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`);
      const value = (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
      if (!value) throw permanentFailure(FailureType.InvalidInput, `secret ${ref} is empty`);
      return value;
    },
  };
}

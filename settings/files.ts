// Files that settings name (certificates, CA bundles), read when a process starts.
import fs from 'node:fs';
import { SettingsError } from './load';

export function readPemSetting(name: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw new SettingsError([`${name}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code}`]);
  }
}

// Reads and checks the settings a process needs, all at once: the environment, over an optional
// file named by BOOT_IMAGE_SETTINGS (KEY=VALUE lines, the syntax of a systemd EnvironmentFile),
// over the `temporal.toml` profile TEMPORAL_CONFIG_FILE names, if any.
import fs from 'node:fs';
import path from 'node:path';
import { settingGroups, type GroupSettings, type Setting, type SettingGroup } from './schema';
import { temporalProfileVariables } from './temporalProfile';

export type Environment = Record<string, string | undefined>;
export type Settings<G extends SettingGroup> = { [K in G]: GroupSettings<K> };

/** Every missing or invalid setting, each line naming its variable (never a secret's value). */
export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid settings:\n  ${problems.join('\n  ')}\n(see the settings table in README.md)`);
    this.name = 'SettingsError';
  }
}

export function readSettings<G extends SettingGroup>(groups: readonly G[], env: Environment = process.env): Settings<G> {
  const given = { ...settingsFile(env.BOOT_IMAGE_SETTINGS), ...env };
  const profile = groups.includes('temporal' as G) && given.TEMPORAL_CONFIG_FILE && path.isAbsolute(given.TEMPORAL_CONFIG_FILE) ? temporalProfileVariables(given.TEMPORAL_CONFIG_FILE, given.TEMPORAL_PROFILE || undefined) : {};
  const source = { ...profile, ...given };
  const problems: string[] = [];
  const result: Record<string, Record<string, unknown>> = {};
  for (const group of groups) {
    const values: Record<string, unknown> = {};
    for (const [name, setting] of Object.entries(settingGroups[group]) as [string, Setting][]) {
      const parsed = setting.schema.safeParse(source[name]);
      if (parsed.success) values[name] = parsed.data;
      else problems.push(`${name}: ${source[name] === undefined ? 'missing' : parsed.error.issues.map((issue) => issue.message).join('; ')}`);
    }
    result[group] = values;
  }
  if (problems.length) throw new SettingsError(problems);
  return result as Settings<G>;
}

function settingsFile(file: string | undefined): Environment {
  if (!file) return {};
  let content: string;
  try {
    content = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new SettingsError([`BOOT_IMAGE_SETTINGS: cannot read ${file}: ${(error as NodeJS.ErrnoException).code}`]);
  }
  const values: Environment = {};
  const problems: string[] = [];
  content.split('\n').forEach((line, index) => {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(trimmed);
    if (match) values[match[1]] = match[2].replace(/^(["'])(.*)\1$/, '$2');
    else problems.push(`BOOT_IMAGE_SETTINGS: ${file} line ${index + 1} is not NAME=value`);
  });
  if (problems.length) throw new SettingsError(problems);
  return values;
}

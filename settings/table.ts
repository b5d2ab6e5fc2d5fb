// The README's settings table, rendered from the schema (test/settings.test.ts keeps the README equal).
import { settingGroups, type Setting } from './schema';

export const groupTitles: Record<keyof typeof settingGroups, string> = {
  temporal: 'every process',
  worker: 'workers',
  versioning: 'orchestrator worker',
  imagectl: 'imagectl',
  s3: 'orchestrator worker, agents',
  csm: 'orchestrator worker',
  luks: 'orchestrator worker',
  imports: 'orchestrator worker',
  initiator: 'orchestrator worker',
  simulator: 'CSM simulator',
  iscsiServer: 'agents',
};

function defaultOf(setting: Setting): string {
  if (setting.defaultShown) return setting.defaultShown;
  const parsed = setting.schema.safeParse(undefined);
  if (!parsed.success) return '**required**';
  if (parsed.data === undefined) return '';
  return Array.isArray(parsed.data) ? parsed.data.join(' ') : String(parsed.data);
}

export function settingsTable(): string {
  const rows = Object.entries(settingGroups).flatMap(([group, settings]) =>
    Object.entries(settings).map(([name, setting]: [string, Setting]) =>
      `| \`${name}\` | ${groupTitles[group as keyof typeof settingGroups]} | ${defaultOf(setting) && defaultOf(setting) !== '**required**' ? `\`${defaultOf(setting)}\`` : defaultOf(setting)} | ${setting.doc} |`,
    ),
  );
  return ['| variable | read by | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

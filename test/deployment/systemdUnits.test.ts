// The systemd units: valid for systemd, and their sandbox leaves every path the role's settings
// name where the role needs it (state writable, secrets and root's ~/.ssh readable).
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { settingGroups, type SettingGroup } from '../../settings/schema';

const unitDir = 'workers/systemd';
const units = { orchestrator: 'boot-image-orchestrator.service', agent: 'boot-image-agent.service' };

/** [Service] directives, a directive given twice keeping every value (as systemd does for lists). */
function serviceSection(file: string): Record<string, string[]> {
  const directives: Record<string, string[]> = {};
  let section = '';
  for (const line of fs.readFileSync(path.join(unitDir, file), 'utf8').split('\n')) {
    const header = /^\[(\w+)\]$/.exec(line.trim());
    if (header) section = header[1];
    const directive = /^(\w+)=(.*)$/.exec(line);
    if (section === 'Service' && directive) (directives[directive[1]] ??= []).push(directive[2]);
  }
  return directives;
}

type Access = 'hidden' | 'read-only' | 'writable';
const under = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);

/** What a root service sees at a path under ProtectSystem, ProtectHome and ReadWritePaths (systemd.exec(5)). */
function sandboxAccess(service: Record<string, string[]>, target: string): Access {
  const protectHome = service.ProtectHome?.at(-1) ?? 'no';
  const homes = ['/home', '/root', '/run/user'];
  if (['true', 'yes', 'tmpfs'].includes(protectHome) && homes.some((h) => under(target, h))) return 'hidden';
  const writable = (service.ReadWritePaths ?? []).flatMap((v) => v.split(/\s+/)).map((p) => p.replace(/^-/, ''));
  if (writable.some((dir) => under(target, dir))) return 'writable';
  if (protectHome === 'read-only' && homes.some((h) => under(target, h))) return 'read-only';
  const readOnly = { no: [], true: ['/usr', '/boot', '/efi'], full: ['/usr', '/boot', '/efi', '/etc'], strict: ['/'] }[service.ProtectSystem?.at(-1) ?? 'no'] ?? [];
  return readOnly.some((dir) => under(target, dir)) ? 'read-only' : 'writable';
}

const defaultOf = (group: SettingGroup, name: string): string => {
  const setting = (settingGroups[group] as Record<string, { schema: { parse(v: unknown): unknown } }>)[name];
  return String(setting.schema.parse(undefined));
};

describe('systemd units', () => {
  it('pass systemd-analyze verify', async () => {
    const result = await execa('systemd-analyze', ['verify', ...Object.values(units).map((u) => path.join(unitDir, u))], { reject: false });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
  });

  it("leave the orchestrator's key store and scratch space writable, its secrets and ~/.ssh readable", () => {
    const service = serviceSection(units.orchestrator);
    for (const name of ['LUKS_KEY_DIR', 'LUKS_WORK_DIR']) expect(sandboxAccess(service, defaultOf('luks', name)), name).toBe('writable');
    expect(sandboxAccess(service, defaultOf('initiator', 'INITIATOR_WORK_DIR'))).toBe('writable');
    expect(sandboxAccess(service, defaultOf('initiator', 'INITIATOR_SECRETS_DIR'))).not.toBe('hidden');
    expect(sandboxAccess(service, '/root/.ssh/id_ed25519'), 'ssh key of the open-iscsi checks').not.toBe('hidden');
  });

  it("leave the agent's state, cache and both distributions' saveconfig directories writable, ~/.ssh readable", () => {
    const service = serviceSection(units.agent);
    for (const name of ['ISCSI_STATE_DIR', 'ISCSI_CACHE_DIR']) expect(sandboxAccess(service, defaultOf('iscsiServer', name)), name).toBe('writable');
    for (const file of [defaultOf('iscsiServer', 'LIO_SAVECONFIG'), '/etc/rtslib-fb-target/saveconfig.json']) {
      expect(sandboxAccess(service, path.dirname(file)), file).toBe('writable');
    }
    expect(sandboxAccess(service, defaultOf('iscsiServer', 'ISCSI_SECRETS_DIR'))).not.toBe('hidden');
    expect(sandboxAccess(service, '/root/.ssh/id_ed25519'), 'ssh key of ISCSI_SSH_DESTINATION').not.toBe('hidden');
    // targetcli creates ~/.targetcli (or TARGETCLI_HOME) at every start, and fails where it cannot.
    const targetcliHome = (service.Environment ?? []).map((e) => /^TARGETCLI_HOME=(.*)$/.exec(e)?.[1]).find(Boolean) ?? '/root/.targetcli';
    expect(sandboxAccess(service, targetcliHome)).toBe('writable');
  });
});

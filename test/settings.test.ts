import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSettings, SettingsError } from '../settings/load';
import { settingsTable } from '../settings/table';

const problemsOf = (read: () => unknown): string[] => {
  try {
    read();
  } catch (error) {
    if (error instanceof SettingsError) return error.problems;
    throw error;
  }
  throw new Error('settings were accepted');
};

describe('settings', () => {
  it('fill in the defaults of what is not set', () => {
    const { temporal, iscsiServer } = readSettings(['temporal', 'iscsiServer'], {});
    expect(temporal.TEMPORAL_ADDRESS).toBe('127.0.0.1:7233');
    expect(temporal.TEMPORAL_TLS).toBe(false);
    expect(iscsiServer.ISCSI_DRIVER).toBe('tgt');
    expect(iscsiServer.ISCSI_SSH_OPTIONS).toEqual(['-o', 'BatchMode=yes']);
  });

  it('list every missing and invalid setting at once, by variable, never showing a secret', () => {
    const problems = problemsOf(() =>
      readSettings(['temporal', 's3', 'csm', 'iscsiServer', 'initiator'], {
        TEMPORAL_ADDRESS: 'https://temporal',
        S3_ENDPOINT: 'not a url',
        S3_SECRET_ACCESS_KEY: 'hunter2-secret',
        ISCSI_DRIVER: 'iet',
        INITIATOR_NODE_CONCURRENCY: '0',
        LIO_SAVECONFIG: 'saveconfig.json',
      }),
    );
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(
      ['CSM_API_URL', 'CSM_CLIENT_ID', 'CSM_CLIENT_SECRET', 'INITIATOR_NODE_CONCURRENCY', 'ISCSI_DRIVER', 'LIO_SAVECONFIG', 'S3_ACCESS_KEY_ID', 'S3_ENDPOINT', 'TEMPORAL_ADDRESS'].sort(),
    );
    expect(problems).toContain('CSM_CLIENT_SECRET: missing');
    expect(problems).toContain('LIO_SAVECONFIG: must be an absolute path');
    expect(problems.join('\n')).not.toContain('hunter2');
  });

  it('read an optional file named by BOOT_IMAGE_SETTINGS, the environment winning over it', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'settings-')), 'worker.env');
    fs.writeFileSync(file, '# site settings\nTEMPORAL_NAMESPACE=site\nIMAGE_TASK_QUEUE="images"\nTEMPORAL_ADDRESS=temporal.site:7233\n');
    const { temporal } = readSettings(['temporal'], { BOOT_IMAGE_SETTINGS: file, TEMPORAL_ADDRESS: 'frontend:7233' });
    expect(temporal).toMatchObject({ TEMPORAL_NAMESPACE: 'site', IMAGE_TASK_QUEUE: 'images', TEMPORAL_ADDRESS: 'frontend:7233' });
    fs.appendFileSync(file, 'not a setting\n');
    expect(problemsOf(() => readSettings(['temporal'], { BOOT_IMAGE_SETTINGS: file }))).toEqual([`BOOT_IMAGE_SETTINGS: ${file} line 5 is not NAME=value`]);
    expect(problemsOf(() => readSettings(['temporal'], { BOOT_IMAGE_SETTINGS: `${file}.missing` }))[0]).toMatch(/cannot read .*ENOENT/);
  });

  it('take a temporal.toml profile for the Temporal settings the environment leaves unset', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'settings-')), 'temporal.toml');
    fs.writeFileSync(
      file,
      '[profile.default]\naddress = "temporal.site:7233"\nnamespace = "site"\n[profile.default.tls]\nserver_ca_cert_path = "/etc/site/ca.pem"\nserver_name = "frontend.site"\n' +
        '[profile.inline]\naddress = "x:1"\n[profile.inline.tls]\nclient_cert_data = "PEM"\nclient_key_data = "PEM"\n',
    );
    const { temporal } = readSettings(['temporal'], { TEMPORAL_CONFIG_FILE: file, TEMPORAL_NAMESPACE: 'lab' });
    expect(temporal).toMatchObject({ TEMPORAL_ADDRESS: 'temporal.site:7233', TEMPORAL_NAMESPACE: 'lab', TEMPORAL_TLS: true, TEMPORAL_TLS_CA: '/etc/site/ca.pem', TEMPORAL_TLS_SERVER_NAME: 'frontend.site' });
    expect(problemsOf(() => readSettings(['temporal'], { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'inline' }))).toEqual([
      'TEMPORAL_CONFIG_FILE: profile "inline": tls.client_cert_data is not supported, use tls.client_cert_path',
      'TEMPORAL_CONFIG_FILE: profile "inline": tls.client_key_data is not supported, use tls.client_key_path',
    ]);
    expect(problemsOf(() => readSettings(['temporal'], { TEMPORAL_CONFIG_FILE: `${file}.missing` }))[0]).toMatch(/^TEMPORAL_CONFIG_FILE: cannot read .*ENOENT/);
    fs.appendFileSync(file, '[profile.typo]\nadress = "x:1"\n');
    expect(problemsOf(() => readSettings(['temporal'], { TEMPORAL_CONFIG_FILE: file }))[0]).toMatch(/^TEMPORAL_CONFIG_FILE: .*adress/);
  });

  it('of the simulator are checked like any other process\'s', () => {
    expect(readSettings(['simulator'], {}).simulator).toEqual({ CSM_SIM_HOST: '127.0.0.1', CSM_SIM_PORT: 8444, CSM_SIM_DATA_DIR: '.dev/csm-sim', CSM_SIM_TOKEN_LIFETIME: 300 });
    expect(problemsOf(() => readSettings(['simulator'], { CSM_SIM_PORT: '70000', CSM_SIM_TOKEN_LIFETIME: 'a day' })).map((p) => p.split(':')[0])).toEqual(['CSM_SIM_PORT', 'CSM_SIM_TOKEN_LIFETIME']);
  });

  it('are documented in README.md by the table rendered from the schema', () => {
    const readme = fs.readFileSync('README.md', 'utf8');
    const table = /<!-- settings table: tsx settings\/printTable.ts -->\n([\s\S]*?)\n<!-- end of settings table -->/.exec(readme);
    expect(table, 'README.md has the settings table markers').not.toBeNull();
    expect(table![1]).toBe(settingsTable());
  });
});

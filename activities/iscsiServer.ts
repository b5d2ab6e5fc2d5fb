// The activities an iSCSI server's agent runs on that server.
import { commandRunnerFromEnv, createExportActivities, targetDriverFromEnv } from './export/activities';
import type { TargetDriver } from './export/driver';
import { createS3Client, s3SettingsFromEnv } from './s3/client';
import { createTgtActivities } from './tgt/activities';
import { readSettings, type Environment } from '../settings/load';

export function createIscsiServerActivities(server: string, env: Environment = process.env, driver: TargetDriver = targetDriverFromEnv(server, env)) {
  const { iscsiServer: settings } = readSettings(['iscsiServer'], env);
  return {
    ...createTgtActivities({ server, controlPort: settings.TGT_CONTROL_PORT }),
    ...createExportActivities({
      server,
      driver,
      runner: commandRunnerFromEnv(env),
      s3: createS3Client(s3SettingsFromEnv(env)),
      cacheDir: settings.ISCSI_CACHE_DIR,
      cacheMaxBytes: settings.ISCSI_CACHE_MAX_BYTES,
    }),
  };
}

export type IscsiServerActivities = ReturnType<typeof createIscsiServerActivities>;

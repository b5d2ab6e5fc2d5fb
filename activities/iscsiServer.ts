// The activities an iSCSI server's agent runs on that server.
import { createExportActivities, targetDriverFromEnv } from './export/activities';
import type { TargetDriver } from './export/driver';
import { createS3Client, s3SettingsFromEnv } from './s3/client';
import { createTgtActivities } from './tgt/activities';

export function createIscsiServerActivities(server: string, env: NodeJS.ProcessEnv = process.env, driver: TargetDriver = targetDriverFromEnv(server, env)) {
  const controlPort = Number(env.TGT_CONTROL_PORT ?? 0);
  if (!Number.isInteger(controlPort) || controlPort < 0) throw new Error(`TGT_CONTROL_PORT is not a port index: ${env.TGT_CONTROL_PORT}`);
  return {
    ...createTgtActivities({ server, controlPort }),
    ...createExportActivities({
      server,
      driver,
      s3: createS3Client(s3SettingsFromEnv(env)),
      cacheDir: env.ISCSI_CACHE_DIR ?? '/var/lib/boot-image-agent/cache',
    }),
  };
}

export type IscsiServerActivities = ReturnType<typeof createIscsiServerActivities>;

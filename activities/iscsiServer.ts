// The activities an iSCSI server's agent runs on that server.
import { commandRunnerFromEnv, createExportActivities, targetDriverFromEnv } from './export/activities';
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
      runner: commandRunnerFromEnv(env),
      s3: createS3Client(s3SettingsFromEnv(env)),
      cacheDir: env.ISCSI_CACHE_DIR ?? '/var/lib/boot-image-agent/cache',
      cacheMaxBytes: byteCount('ISCSI_CACHE_MAX_BYTES', env.ISCSI_CACHE_MAX_BYTES),
    }),
  };
}

const binaryUnits: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** `500000000`, `200G` or `200GiB` (units are powers of 1024); undefined when unset. */
export function byteCount(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const match = /^(\d+)\s*([KMGT]?)(?:i?B)?$/i.exec(value.trim());
  if (!match) throw new Error(`${name} is not a size in bytes (like 500000000, 200G or 200GiB): ${value}`);
  return Number(match[1]) * binaryUnits[match[2].toUpperCase()];
}

export type IscsiServerActivities = ReturnType<typeof createIscsiServerActivities>;

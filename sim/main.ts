// The simulator as the dev stack runs it: settings from the environment.
import { s3SettingsFromEnv } from '../activities/s3/client';
import { startSimulator } from './server';

const simulator = await startSimulator({
  host: process.env.CSM_SIM_HOST,
  port: Number(process.env.CSM_SIM_PORT ?? 8444),
  dataDir: process.env.CSM_SIM_DATA_DIR ?? '.dev/csm-sim',
  s3: s3SettingsFromEnv(),
  clients: { [process.env.CSM_CLIENT_ID ?? 'admin-client']: process.env.CSM_CLIENT_SECRET ?? 'devstack-client-secret' },
  tokenLifetimeSeconds: Number(process.env.CSM_SIM_TOKEN_LIFETIME ?? 300),
});
console.log(`CSM simulator listening on ${simulator.url}`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void simulator.close().then(() => process.exit(0)));

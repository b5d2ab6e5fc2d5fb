// The simulator as the dev stack runs it: its own settings, S3's, and the one client it accepts
// (CSM_CLIENT_ID and CSM_CLIENT_SECRET, the workers' credentials).
import { s3SettingsOf } from '../activities/s3/client';
import { readSettings, SettingsError } from '../settings/load';
import { simulatorSettingGroups, startSimulator } from './server';

let settings;
try {
  settings = readSettings(simulatorSettingGroups);
} catch (error) {
  if (!(error instanceof SettingsError)) throw error;
  console.error(error.message);
  process.exit(2);
}
const { simulator: sim, csm, s3 } = settings;
const simulator = await startSimulator({
  host: sim.CSM_SIM_HOST,
  port: sim.CSM_SIM_PORT,
  dataDir: sim.CSM_SIM_DATA_DIR,
  s3: s3SettingsOf(s3),
  clients: { [csm.CSM_CLIENT_ID]: csm.CSM_CLIENT_SECRET },
  tokenLifetimeSeconds: sim.CSM_SIM_TOKEN_LIFETIME,
});
console.log(`CSM simulator listening on ${simulator.url}`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void simulator.close().then(() => process.exit(0)));

// docker-compose.yml's Temporal server configuration, deploy/compose/temporal.yaml: the cluster
// profile's (dev/cluster.ts), placed for the compose network. `tsx dev/composeTemporalConfig.ts`
// writes it again; test/dockerCompose.test.ts keeps it equal to what this renders.
import fs from 'node:fs';
import { serverConfig, serverConfigTemplate, type ServerPlacement } from './cluster';

export const composeTemporalConfigFile = 'deploy/compose/temporal.yaml';

/** Every service in the one container: the frontend on every interface for the other containers, membership on loopback. */
export const composePlacement: ServerPlacement = {
  frontend: 'temporal:7233',
  bindOnIP: '0.0.0.0',
  broadcastAddress: '127.0.0.1',
  postgres: 'postgresql:5432',
  dynamicConfigFile: '/etc/temporal/dynamicconfig/development-sql.yaml',
};

export const composeTemporalConfig = () => `# Written by tsx dev/composeTemporalConfig.ts: do not edit.\n${serverConfig(serverConfigTemplate(), composePlacement)}`;

if (import.meta.url === `file://${process.argv[1]}`) fs.writeFileSync(composeTemporalConfigFile, composeTemporalConfig());

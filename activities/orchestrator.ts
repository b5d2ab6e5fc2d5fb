// The activities the central orchestrator worker runs, built from the environment.
import { createBssActivities } from './bss/activities';
import { BssClient } from './bss/client';
import { SnapshotStore } from './bss/snapshot';
import { createCfsActivities } from './cfs/activities';
import { CfsClient } from './cfs/client';
import { CsmClient, csmSettingsFromEnv } from './csm/client';
import { createEncryptionHostLookup, luksSettingsFromEnv } from './encryptionHost';
import { createImsActivities } from './ims/activities';
import { ImsClient } from './ims/client';
import { importRootsFromEnv } from './import/importRoots';
import { createImportPreflightActivities } from './import/preflight';
import { createInitiatorActivities, nodeSecretsFromEnv } from './initiator/activities';
import { createManifestActivities } from './manifest/activities';
import { ObjectStore } from './manifest/objectStore';
import { nodeAttachActivities } from './node/activities';
import { nodeSshRunners } from './node/ssh';
import { createS3Client, s3SettingsFromEnv } from './s3/client';
import { createS3ImportActivities } from './s3/activities';
import { createS3RoundTripActivities } from './s3/roundTrip';
import { createWorkflowInputActivities } from './workflowInput';
import { readSettings, type Environment } from '../settings/load';

export function createOrchestratorActivities(env: Environment = process.env) {
  // Every setting of the orchestrator's activities checked at once, before any client is made.
  const { csm: csmSettings } = readSettings(['s3', 'csm', 'luks', 'imports', 'initiator', 'worker'], env);
  const s3 = createS3Client(s3SettingsFromEnv(env));
  const store = new ObjectStore(s3);
  const csm = new CsmClient(csmSettingsFromEnv(env));
  const importRoots = importRootsFromEnv(env);
  return {
    ...createWorkflowInputActivities(),
    ...createS3RoundTripActivities(s3),
    ...createS3ImportActivities(s3, {}, importRoots),
    ...createImportPreflightActivities(store, importRoots),
    ...createManifestActivities(store),
    ...createImsActivities(new ImsClient(csm)),
    ...createCfsActivities(new CfsClient(csm)),
    ...createEncryptionHostLookup(env),
    ...createInitiatorActivities(env),
    ...nodeAttachActivities({ runnerFor: nodeSshRunners(env), keyStore: luksSettingsFromEnv(env).keyStore, secrets: nodeSecretsFromEnv(env) }),
    ...createBssActivities({ bss: new BssClient(csm), snapshots: new SnapshotStore(store, csmSettings.BSS_SNAPSHOT_PREFIX), store }),
  };
}

export type OrchestratorActivities = ReturnType<typeof createOrchestratorActivities>;

// The activities the central orchestrator worker runs, built from the environment.
import { createS3Client, s3SettingsFromEnv } from './s3/client';
import { createS3RoundTripActivities } from './s3/roundTrip';

export function createOrchestratorActivities(env: NodeJS.ProcessEnv = process.env) {
  const s3 = createS3Client(s3SettingsFromEnv(env));
  return {
    ...createS3RoundTripActivities(s3),
  };
}

export type OrchestratorActivities = ReturnType<typeof createOrchestratorActivities>;

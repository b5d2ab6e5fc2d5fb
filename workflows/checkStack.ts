// checkStack: proves the wiring end to end. S3 is written and read by the orchestrator worker;
// each iSCSI server's agent lists the targets of its own tgtd.
import { attempt } from './support/attempt';
import { central, onIscsiServer } from './support/activities';

/** A health check answers within a minute: it does not wait out outages. */
const quick = { budgetMs: 60_000 };

export interface CheckStackInput {
  bucket: string;
  iscsiServers: string[];
}

export interface CheckStackResult {
  s3: { key: string; etag: string; bytesWritten: number; bytesRead: number; intact: boolean };
  iscsiServers: { server: string; targets: string[] }[];
}

export async function checkStack(input: CheckStackInput): Promise<CheckStackResult> {
  const key = `check-stack/${Date.now()}.txt`;
  const roundTrip = await attempt('S3 round trip', (label) =>
    central(label).roundTripObject({ bucket: input.bucket, key, text: `written by checkStack at ${new Date().toISOString()}` }), quick);
  const iscsiServers = await Promise.all(
    input.iscsiServers.map((server) => attempt(`list targets on ${server}`, (label) => onIscsiServer(server, { startToCloseTimeout: '30s' })(label).listTargets(), quick)),
  );
  return {
    s3: {
      key,
      etag: roundTrip.etag,
      bytesWritten: roundTrip.bytesWritten,
      bytesRead: roundTrip.bytesRead,
      intact: roundTrip.sha256Read === roundTrip.sha256Written,
    },
    iscsiServers,
  };
}

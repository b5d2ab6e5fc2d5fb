// An S3 client in front of the real S3 server that answers the way Ceph RGW 16 (CSM's S3) does, checked
// by hand on that RGW: GetObjectAttributes fails (the SDK sees a body it cannot parse from a 500), and a
// HEAD with partNumber answers with the whole object's length, not the part's.
import { createS3Client } from '../../activities/s3/client';
import { devStack } from '../../dev/config';

export function rgw16Client() {
  const calls = { attributes: 0, partHeads: 0 };
  const client = createS3Client(devStack.s3);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { PartNumber?: number };
      if (context.commandName === 'GetObjectAttributesCommand') {
        calls.attributes++;
        throw Object.assign(new Error('Deserialization error: to see the raw response, inspect the hidden field {error}.$response on this object. char \'I\' is not expected.:1:1'), {
          $metadata: { httpStatusCode: 500 },
        });
      }
      if (context.commandName !== 'HeadObjectCommand' || !input.PartNumber) return next(args);
      calls.partHeads++;
      const { PartNumber, ...whole } = input;
      void PartNumber;
      return next({ ...args, input: whole });
    },
    { step: 'initialize', name: 'rgw16' },
  );
  return { client, calls };
}

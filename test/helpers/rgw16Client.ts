// An S3 client of a server that tells no part layout, as Ceph RGW 16 (CSM's S3) does: GetObjectAttributes
// fails (the SDK sees a body it cannot parse from a 500), and a HEAD with partNumber answers with the
// whole object's length, not the part's. On RGW that is the real server; on SeaweedFS, which does tell,
// the client makes it answer that way. Either way it counts the calls that ask for a layout.
import { createS3Client } from '../../activities/s3/client';
import type { S3Server } from './s3Servers';

export function rgw16Client(server: S3Server) {
  const calls = { attributes: 0, partHeads: 0 };
  const client = createS3Client(server.settings);
  const emulate = server.backend !== 'rgw';
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { PartNumber?: number };
      if (context.commandName === 'GetObjectAttributesCommand') {
        calls.attributes++;
        if (!emulate) return next(args);
        throw Object.assign(new Error('Deserialization error: to see the raw response, inspect the hidden field {error}.$response on this object. char \'I\' is not expected.:1:1'), {
          $metadata: { httpStatusCode: 500 },
        });
      }
      if (context.commandName !== 'HeadObjectCommand' || !input.PartNumber) return next(args);
      calls.partHeads++;
      if (!emulate) return next(args);
      const { PartNumber, ...whole } = input;
      void PartNumber;
      return next({ ...args, input: whole });
    },
    { step: 'initialize', name: 'rgw16' },
  );
  return { client, calls };
}

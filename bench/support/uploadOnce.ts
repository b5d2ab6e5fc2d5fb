// One upload by our uploader in a process of its own, as a worker runs it: prints its wall time, the CPU
// seconds the upload itself took (startup excluded) and the process's peak RSS, as one JSON line.
// Usage: tsx bench/support/uploadOnce.ts FILE BUCKET KEY PART_SIZE PARTS_IN_FLIGHT
import { createS3Client } from '../../activities/s3/client';
import { uploadFile } from '../../activities/s3/upload';
import { devStack } from '../../dev/config';

const [file, bucket, key, partSize, partsInFlight] = process.argv.slice(2);
const s3 = createS3Client(devStack.s3);
const cpuBefore = process.cpuUsage();
const start = performance.now();
const result = await uploadFile(s3, { file, bucket, key, partSize: Number(partSize), partsInFlight: Number(partsInFlight) });
const seconds = (performance.now() - start) / 1000;
const cpu = process.cpuUsage(cpuBefore);
console.log(JSON.stringify({ seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssMiB: process.resourceUsage().maxRSS / 1024, bytesSent: result.bytesSent }));

// How long each step of a workflow waits out transient failures (5xx, resets, timeouts) before it
// gives up: bounded by time, not tries, so an outage of S3, IMS, CFS or BSS during an upgrade (a CSM
// API gateway or Ceph restart: 15 minutes and more) is waited out. Every try is still an event.
import { z } from 'zod';
import { Minutes, week } from './minutes';

export const RetrySpec = z
  .object({
    /** Per step, from its first try; the default outlasts a 15-minute outage with room to spare. */
    budgetMinutes: Minutes(week, 'a week').default(30),
    /** The wait between tries doubles from 1 s up to this. */
    maxIntervalSeconds: z.number().min(1).max(3600).default(30),
  })
  .strict()
  .prefault({});
export type RetrySpec = z.output<typeof RetrySpec>;

/** The field every workflow input takes; the lifecycle and rollouts pass theirs on to their children. */
export const retryField = { retry: RetrySpec };

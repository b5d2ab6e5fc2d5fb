// Runtime fault injection, switched through /_sim/faults without a restart.
import { z } from 'zod';

export const FaultSettings = z
  .object({
    /** Share (0-1) of API requests answered with `errorStatus` instead of being served. */
    errorRate: z.number().min(0).max(1).default(0),
    errorStatus: z.union([z.literal(500), z.literal(502), z.literal(503), z.literal(504)]).default(503),
    /** Only requests whose path starts with this prefix get errors (e.g. "/apis/ims"). */
    errorPathPrefix: z.string().default('/apis/'),
    /** Exactly this many next matching requests fail, whatever errorRate says. */
    failNext: z.number().int().min(0).default(0),
    latencyMs: z.number().int().min(0).max(60_000).default(0),
    /** CFS sessions started from now on stay `running` forever. */
    hangSessions: z.boolean().default(false),
    /**
     * The next N CFS sessions register their customized image with a manifest whose rootfs link has
     * no etag: the manifests of seed 000, which crash the SBPS marshal until they are repaired.
     */
    etaglessResultsNext: z.number().int().min(0).default(0),
  })
  .strict();
export type FaultSettings = z.output<typeof FaultSettings>;

export class Faults {
  settings: FaultSettings = FaultSettings.parse({});
  injected = 0;

  update(patch: unknown): FaultSettings {
    this.settings = FaultSettings.parse({ ...this.settings, ...(patch as object) });
    return this.settings;
  }

  /** Whether the CFS session being created gets the etag-less result fault (and uses one up). */
  takeEtaglessResult(): boolean {
    if (this.settings.etaglessResultsNext === 0) return false;
    this.settings.etaglessResultsNext--;
    this.injected++;
    return true;
  }

  /** The status to answer instead of serving this request, if any. */
  errorFor(path: string): number | undefined {
    const { errorRate, errorStatus, errorPathPrefix, failNext } = this.settings;
    if (!path.startsWith(errorPathPrefix)) return undefined;
    if (failNext > 0) {
      this.settings.failNext--;
      this.injected++;
      return errorStatus;
    }
    if (errorRate > 0 && Math.random() < errorRate) {
      this.injected++;
      return errorStatus;
    }
    return undefined;
  }
}

import { Context } from '@temporalio/activity';
import { FailureType, permanentFailure } from '../../lib/failures';
import { CsmHttpError } from '../csm/client';
import { callService } from '../csm/failures';
import type { CfsClient, CfsLayer, CfsSession } from './client';

export interface SessionProgress {
  status: string;
  succeeded: string;
  polls: number;
  transientErrors: number;
}

export function createCfsActivities(cfs: CfsClient) {
  return {
    /** PUTs the configuration when layers are given (idempotent); otherwise it must exist. */
    async ensureConfiguration(input: { name: string; layers?: CfsLayer[] }): Promise<{ name: string; layers: number }> {
      return callService('CFS', async () => {
        if (input.layers) {
          const saved = await cfs.putConfiguration(input.name, input.layers);
          return { name: input.name, layers: saved.layers.length };
        }
        try {
          return { name: input.name, layers: (await cfs.getConfiguration(input.name)).layers.length };
        } catch (error) {
          if (error instanceof CsmHttpError && error.status === 404) {
            throw permanentFailure(FailureType.InvalidInput, `CFS has no configuration ${JSON.stringify(input.name)}`);
          }
          throw error;
        }
      });
    },

    /** Creates the image customization session, or adopts the one an earlier run created (409). */
    async createImageSession(input: { sessionName: string; configuration: string; imageId: string; resultName?: string; requestId: string }): Promise<{ adopted: boolean }> {
      return callService('CFS', async () => {
        const target = {
          definition: 'image',
          groups: [{ name: 'image', members: [input.imageId] }],
          ...(input.resultName ? { image_map: [{ source_id: input.imageId, result_name: input.resultName }] } : {}),
        };
        try {
          await cfs.createSession({ name: input.sessionName, configuration_name: input.configuration, target, tags: { 'orchestrator.request': input.requestId } });
          return { adopted: false };
        } catch (error) {
          if (!(error instanceof CsmHttpError) || error.status !== 409) throw error;
          const existing = await cfs.getSession(input.sessionName);
          const members = existing.target?.groups?.flatMap((g) => g.members) ?? [];
          if (existing.configuration?.name !== input.configuration || !members.includes(input.imageId)) {
            throw permanentFailure(FailureType.ServiceRejected, `CFS session ${input.sessionName} exists for another image or configuration`);
          }
          return { adopted: true };
        }
      });
    },

    /**
     * Polls the session until it completes or the deadline passes, heartbeating its state. Polls
     * that meet a 5xx or a network error are counted and polled again; the deadline bounds them.
     */
    async waitForSession(input: { sessionName: string; deadline: string; pollIntervalMs: number }): Promise<{ session?: CfsSession; timedOut: boolean; progress: SessionProgress }> {
      const context = Context.current();
      const progress: SessionProgress = { status: 'unknown', succeeded: 'none', polls: 0, transientErrors: 0, ...(context.info.heartbeatDetails as Partial<SessionProgress>) };
      for (;;) {
        try {
          const session = await cfs.getSession(input.sessionName);
          progress.polls++;
          progress.status = session.status?.session?.status ?? 'unknown';
          progress.succeeded = session.status?.session?.succeeded ?? 'none';
          if (progress.status === 'complete') return { session, timedOut: false, progress };
        } catch (error) {
          if (!(error instanceof CsmHttpError && error.transient)) return callService('CFS', () => Promise.reject(error));
          progress.transientErrors++;
        }
        context.heartbeat(progress);
        if (Date.now() >= Date.parse(input.deadline)) return { timedOut: true, progress };
        await context.sleep(input.pollIntervalMs);
      }
    },

    async deleteSession(input: { sessionName: string }): Promise<{ deleted: boolean }> {
      return callService('CFS', async () => {
        try {
          await cfs.deleteSession(input.sessionName);
          return { deleted: true };
        } catch (error) {
          if (error instanceof CsmHttpError && error.status === 404) return { deleted: false };
          throw error;
        }
      });
    },
  };
}

export type CfsActivities = ReturnType<typeof createCfsActivities>;

import { FailureType, permanentFailure, transientFailure } from '../../lib/failures';
import { CsmHttpError } from './client';

/** Turns a service error into the failure a workflow decides on: retry (5xx, network) or stop (4xx). */
export async function callService<T>(service: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof CsmHttpError)) throw error;
    const details = { service, method: error.method, path: error.path, status: error.status, detail: error.problem.detail };
    const message = `${service}: ${error.message}`;
    throw error.transient
      ? transientFailure(FailureType.ServiceUnavailable, message, details)
      : permanentFailure(FailureType.ServiceRejected, message, details);
  }
}

// Our series recorded from activity code, through the worker's metric meter (the SDK serves them with
// its own); nothing is recorded outside an activity (scripts, benchmarks, unit tests).
import { metricCatalogue as m } from '../../lib/metrics';
import { currentContext } from './progress';

export function countUploadedBytes(bytes: number): void {
  currentContext()?.metricMeter.createCounter(m.uploadedBytes.name, 'By', m.uploadedBytes.help).add(bytes);
}

export function countStagedBytes(server: string, bytes: number): void {
  currentContext()?.metricMeter.createCounter(m.stagedBytes.name, 'By', m.stagedBytes.help).add(bytes, { server });
}

// Our series recorded from workflow code. The SDK's workflow meter emits nothing while replaying, so
// these count each event once however often a workflow is replayed.
import { metricMeter } from '@temporalio/workflow';
import { metricCatalogue as m } from '../../lib/metrics';

export function countFailedAttempt(failureType: string): void {
  metricMeter.createCounter(m.attemptsFailed.name, '', m.attemptsFailed.help).add(1, { failure_type: failureType });
}

export function countRepair(failureType: string, outcome: 'repaired' | 'repair-failed'): void {
  metricMeter.createCounter(m.repairs.name, '', m.repairs.help).add(1, { failure_type: failureType, outcome });
}

export function countValidatedNodes(passed: number, failed: number): void {
  const counter = metricMeter.createCounter(m.nodesValidated.name, '', m.nodesValidated.help);
  counter.add(passed, { verdict: 'passed' });
  counter.add(failed, { verdict: 'failed' });
}

export function countRollback(outcome: 'completed' | 'failed'): void {
  metricMeter.createCounter(m.rollbacks.name, '', m.rollbacks.help).add(1, { outcome });
}

export function recordPhaseDuration(phase: string, seconds: number, outcome: 'completed' | 'failed'): void {
  metricMeter.createHistogram(m.phaseDuration.name, 'float', 's', m.phaseDuration.help).record(seconds, { phase, outcome });
}

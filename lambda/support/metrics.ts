// Run outcomes as CloudWatch metrics in the embedded metric format (one log line, no API call), through
// Powertools for AWS Lambda. The names and dimensions here are the ones the construct's metric methods use.
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

export const METRICS_NAMESPACE = 'SnapshotPolicy';
export const METRICS_SERVICE = 'cdk-snapshot-policy';

export type MetricName =
  | 'SetsCreated' | 'InstancesFailed' | 'InstancesNotReached' | 'InstancesAlreadyDone'
  | 'SetsDeleted' | 'SnapshotsDeleted' | 'DeletesSkipped';

/** Emits the given counts, all zeros included (a zero is a fact: a missing point is not). */
export function publishCounts(policyId: string, counts: Partial<Record<MetricName, number>>): void {
  const metrics = new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: METRICS_SERVICE,
    defaultDimensions: { PolicyId: policyId },
  });
  for (const [name, value] of Object.entries(counts)) {
    metrics.addMetric(name, MetricUnit.Count, value ?? 0);
  }
  metrics.publishStoredMetrics();
}

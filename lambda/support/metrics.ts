// Run outcomes as CloudWatch metrics in the embedded metric format (one log line, no API call), through
// Powertools for AWS Lambda. Names, namespace and dimensions come from the contract the construct's metric
// methods read too.
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Metric, MetricName } from '../../lib/private/contract';

export type { MetricName };

/**
 * Emits the given counts, all zeros included (a zero is a fact: a missing point is not), and durations in
 * seconds.
 */
export function publishCounts(
  policyId: string, counts: Partial<Record<MetricName, number>>, seconds: Partial<Record<MetricName, number>> = {},
): void {
  const metrics = new Metrics({
    namespace: Metric.NAMESPACE,
    serviceName: Metric.SERVICE,
    defaultDimensions: { [Metric.POLICY_DIMENSION]: policyId },
  });
  for (const [name, value] of Object.entries(counts)) {
    metrics.addMetric(name, MetricUnit.Count, value ?? 0);
  }
  for (const [name, value] of Object.entries(seconds)) {
    metrics.addMetric(name, MetricUnit.Seconds, value ?? 0);
  }
  metrics.publishStoredMetrics();
}

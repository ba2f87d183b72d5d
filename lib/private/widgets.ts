// The policy's dashboard widgets, laid out as cdk-monitoring-constructs users expect: a header, then rows of
// graphs that each fill the 24-column grid (two of 12 or three of 8), every graph titled and its left axis
// labelled and starting at 0. The rows wrap on their own when the widgets are added in one call.
import { Duration, aws_cloudwatch as cloudwatch, aws_lambda as lambda, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import type { SnapshotPolicy } from '../snapshot-policy';

const HEIGHT = 6;
const HALF = cloudwatch.GRID_WIDTH / 2;
const THIRD = cloudwatch.GRID_WIDTH / 3;

/** The widgets of `policy`; `timeout` is its functions' time limit, drawn on the durations. */
export function policyWidgets(policy: SnapshotPolicy, timeout: Duration): cloudwatch.IWidget[] {
  return [
    new cloudwatch.TextWidget({ markdown: `### Snapshot policy ${policy.policyId}`, width: cloudwatch.GRID_WIDTH, height: 1 }),
    ...protectionRow(policy),
    ...runsRow(policy),
    ...functionsRow(policy, timeout),
    ...executionsRow(policy),
  ];
}

function graph(title: string, axisLabel: string, left: cloudwatch.IMetric[], width: number,
  leftAnnotations?: cloudwatch.HorizontalAnnotation[]): cloudwatch.GraphWidget {
  return new cloudwatch.GraphWidget({
    title, left, width, height: HEIGHT, leftYAxis: { label: axisLabel, min: 0, showUnits: false }, leftAnnotations,
  });
}

/** A red line at a limit, in the graph's unit; none when the limit is an unresolved token. */
function limit(name: string, duration: Duration, inUnit: (d: Duration) => number): cloudwatch.HorizontalAnnotation[] {
  if (duration.isUnresolved()) return [];
  return [{ value: inUnit(duration), label: `${name} (${duration.toHumanString()})`, color: cloudwatch.Color.RED }];
}

function protectionRow(policy: SnapshotPolicy): cloudwatch.IWidget[] {
  return [
    graph('Tagged instances protected and unprotected', 'Instances', [
      policy.metricInstancesProtected({ label: 'Protected', color: cloudwatch.Color.GREEN }),
      policy.metricInstancesUnprotected({ label: 'Unprotected', color: cloudwatch.Color.RED }),
    ], HALF),
    graph('Age of the worst instance\'s newest set', 'Seconds', [
      policy.metricMaxLatestSetAge({ label: 'Worst newest-set age' }),
    ], HALF, limit('maxSetAge', policy.maxSetAge, (d) => d.toSeconds())),
  ];
}

function runsRow(policy: SnapshotPolicy): cloudwatch.IWidget[] {
  return [
    graph('Snapshot runs: instances per outcome', 'Instances', [
      policy.metricSetsCreated({ label: 'Sets created', color: cloudwatch.Color.GREEN }),
      policy.metricInstancesFailed({ label: 'Failed', color: cloudwatch.Color.RED }),
      policy.metricInstancesNotReached({ label: 'Not reached', color: cloudwatch.Color.ORANGE }),
    ], HALF),
    graph('Clean-ups: deletions', 'Count', [
      policy.metricSetsDeleted({ label: 'Sets deleted' }),
      policy.metricDeletesSkipped({ label: 'Snapshot deletes skipped', color: cloudwatch.Color.ORANGE }),
      policy.metricDuplicatesDeleted({ label: 'Duplicate snapshots deleted', color: cloudwatch.Color.PURPLE }),
    ], HALF),
  ];
}

function functionsRow(policy: SnapshotPolicy, timeout: Duration): cloudwatch.IWidget[] {
  const functions: Array<[string, lambda.IFunction]> = [['Snapshot', policy.snapshotFunction], ['Clean-up', policy.cleanupFunction]];
  if (policy.starterFunction) functions.push(['Starter', policy.starterFunction]);
  const sum = { statistic: cloudwatch.Stats.SUM, period: Duration.hours(1) };
  return [
    graph('Function errors', 'Errors', functions.map(([label, fn]) => fn.metricErrors({ ...sum, label })), THIRD),
    graph('Function durations (maximum)', 'Milliseconds', functions.map(([label, fn]) =>
      fn.metricDuration({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.hours(1), label })), THIRD,
    limit('Timeout', timeout, (d) => d.toMilliseconds())),
    graph('Function throttles', 'Throttles', functions.map(([label, fn]) => fn.metricThrottles({ ...sum, label })), THIRD),
  ];
}

/** With `Orchestration.STEP_FUNCTIONS` only: the executions of the run and clean-up state machines. */
function executionsRow(policy: SnapshotPolicy): cloudwatch.IWidget[] {
  const machines: Array<[string, sfn.IStateMachine | undefined]> = [['Run', policy.stateMachine], ['Clean-up', policy.cleanupStateMachine]];
  const sum = { statistic: cloudwatch.Stats.SUM, period: Duration.hours(1) };
  return machines.filter((entry): entry is [string, sfn.IStateMachine] => entry[1] !== undefined).map(([label, machine]) =>
    graph(`${label} state machine executions`, 'Executions', [
      machine.metricStarted({ ...sum, label: 'Started' }),
      machine.metricSucceeded({ ...sum, label: 'Succeeded', color: cloudwatch.Color.GREEN }),
      machine.metricFailed({ ...sum, label: 'Failed', color: cloudwatch.Color.RED }),
      machine.metricTimedOut({ ...sum, label: 'Timed out', color: cloudwatch.Color.ORANGE }),
    ], HALF));
}

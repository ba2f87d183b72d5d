// Construct tests of the policy's dashboard: the widgets `widgets()` returns (their metrics, titles, axes and
// rows), and the dashboard `dashboard: true` creates from them.
import { Duration, Stack, aws_cloudwatch as cloudwatch, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { Orchestration, SnapshotPolicy, SnapshotPolicyProps } from '../../lib';
import { build } from '../support/stack';

interface WidgetJson {
  readonly type: string;
  readonly width: number;
  readonly height: number;
  readonly x?: number;
  readonly y?: number;
  readonly properties: Record<string, any>;
}

/** The widgets as the dashboard body holds them, tokens resolved. */
function widgetsOf(stack: Stack, policy: SnapshotPolicy): WidgetJson[] {
  return policy.widgets().flatMap((w) => stack.resolve(w.toJson()) as WidgetJson[]);
}

function graphTitled(widgets: WidgetJson[], title: string): WidgetJson {
  const found = widgets.filter((w) => w.properties.title === title);
  expect(found).toHaveLength(1);
  return found[0];
}

/** `namespace metric-name` of each metric of a graph, with its statistic and label. */
function metricsOf(widget: WidgetJson): Array<{ metric: string; stat: string; label: string; dimensions: unknown[] }> {
  return widget.properties.metrics.map((m: any[]) => {
    const options = m[m.length - 1];
    return { metric: `${m[0]} ${m[1]}`, stat: options.stat, label: options.label, dimensions: m.slice(2, -1) };
  });
}

const POLICY_DIMENSIONS = ['PolicyId', 'MyStack/Nightly', 'service', 'cdk-snapshot-policy'];
const PROPS: Partial<SnapshotPolicyProps> = { orchestration: Orchestration.STEP_FUNCTIONS, cleanupSchedule: scheduler.ScheduleExpression.expression('cron(0 9 * * ? *)') };

describe('widgets', () => {
  test('start with a header naming the policy, then rows of titled graphs that each fill the 24 columns', () => {
    const { stack, policy } = build();
    const widgets = widgetsOf(stack, policy);
    expect(widgets[0]).toEqual({ type: 'text', width: 24, height: 1, properties: { markdown: '### Snapshot policy MyStack/Nightly' } });
    const graphs = widgets.slice(1);
    expect(graphs.map((w) => w.width)).toEqual([12, 12, 12, 12, 8, 8, 8]);
    for (const graph of graphs) {
      expect(graph.type).toBe('metric');
      expect(graph.height).toBe(6);
      expect(graph.properties.title).toMatch(/\w/);
      expect(graph.properties.yAxis.left).toEqual({ label: expect.stringMatching(/\w/), min: 0, showUnits: false });
    }
  });

  test('show protected and unprotected instances, the maximum readings of this policy', () => {
    const { stack, policy } = build();
    expect(metricsOf(graphTitled(widgetsOf(stack, policy), 'Tagged instances protected and unprotected'))).toEqual([
      { metric: 'SnapshotPolicy InstancesProtected', stat: 'Maximum', label: 'Protected', dimensions: POLICY_DIMENSIONS },
      { metric: 'SnapshotPolicy InstancesUnprotected', stat: 'Maximum', label: 'Unprotected', dimensions: POLICY_DIMENSIONS },
    ]);
  });

  test('show the worst newest-set age against maxSetAge as a horizontal line, in seconds', () => {
    const { stack, policy } = build({ maxSetAge: Duration.hours(36) });
    const widget = graphTitled(widgetsOf(stack, policy), 'Age of the worst instance\'s newest set');
    expect(metricsOf(widget)).toEqual([
      { metric: 'SnapshotPolicy MaxLatestSetAge', stat: 'Maximum', label: 'Worst newest-set age', dimensions: POLICY_DIMENSIONS },
    ]);
    expect(widget.properties.yAxis.left.label).toBe('Seconds');
    expect(widget.properties.annotations.horizontal).toEqual([{ value: 129_600, label: 'maxSetAge (1 day 12 hours)', color: '#d62728', yAxis: 'left' }]);
  });

  test('show sets created, failed and not reached per run, and the clean-ups\' deletions, skipped deletes and duplicates', () => {
    const { stack, policy } = build();
    const widgets = widgetsOf(stack, policy);
    expect(metricsOf(graphTitled(widgets, 'Snapshot runs: instances per outcome')).map(({ metric, stat }) => [metric, stat])).toEqual([
      ['SnapshotPolicy SetsCreated', 'Sum'], ['SnapshotPolicy InstancesFailed', 'Sum'], ['SnapshotPolicy InstancesNotReached', 'Sum'],
    ]);
    expect(metricsOf(graphTitled(widgets, 'Clean-ups: deletions')).map(({ metric, stat }) => [metric, stat])).toEqual([
      ['SnapshotPolicy SetsDeleted', 'Sum'], ['SnapshotPolicy DeletesSkipped', 'Sum'], ['SnapshotPolicy DuplicatesDeleted', 'Sum'],
    ]);
  });

  test('show errors, maximum durations against the timeout, and throttles of both functions', () => {
    const { stack, policy } = build({ timeout: Duration.minutes(10) });
    const widgets = widgetsOf(stack, policy);
    const functionDimensions = [policy.snapshotFunction, policy.cleanupFunction].map((fn) => ['FunctionName', stack.resolve(fn.functionName)]);
    for (const [title, metricName, stat] of [
      ['Function errors', 'Errors', 'Sum'], ['Function durations (maximum)', 'Duration', 'Maximum'], ['Function throttles', 'Throttles', 'Sum'],
    ]) {
      expect(metricsOf(graphTitled(widgets, title))).toEqual([
        { metric: `AWS/Lambda ${metricName}`, stat, label: 'Snapshot', dimensions: functionDimensions[0] },
        { metric: `AWS/Lambda ${metricName}`, stat, label: 'Clean-up', dimensions: functionDimensions[1] },
      ]);
    }
    expect(graphTitled(widgets, 'Function durations (maximum)').properties.annotations.horizontal)
      .toEqual([{ value: 600_000, label: 'Timeout (10 minutes)', color: '#d62728', yAxis: 'left' }]);
  });

  test('show no state machine executions with Orchestration.LAMBDA', () => {
    const { stack, policy } = build();
    expect(JSON.stringify(widgetsOf(stack, policy))).not.toContain('AWS/States');
  });

  test('show both state machines\' executions and the starter\'s errors with Orchestration.STEP_FUNCTIONS, in full rows', () => {
    const { stack, policy } = build(PROPS);
    const widgets = widgetsOf(stack, policy);
    expect(widgets.slice(1).map((w) => w.width)).toEqual([12, 12, 12, 12, 8, 8, 8, 12, 12]);
    for (const [title, machine] of [['Run state machine executions', policy.stateMachine!], ['Clean-up state machine executions', policy.cleanupStateMachine!]] as const) {
      const arn = stack.resolve(machine.stateMachineArn);
      expect(metricsOf(graphTitled(widgets, title))).toEqual(['Started', 'Succeeded', 'Failed', 'TimedOut'].map((outcome) => ({
        metric: `AWS/States Executions${outcome}`, stat: 'Sum', label: outcome === 'TimedOut' ? 'Timed out' : outcome, dimensions: ['StateMachineArn', arn],
      })));
    }
    expect(metricsOf(graphTitled(widgets, 'Function errors')).map((m) => m.label)).toEqual(['Snapshot', 'Clean-up', 'Starter']);
    expect(metricsOf(graphTitled(widgets, 'Function errors'))[2].dimensions).toEqual(['FunctionName', stack.resolve(policy.starterFunction!.functionName)]);
  });

  test('can be added to a dashboard of one\'s own', () => {
    const { stack, policy } = build();
    const dashboard = new cloudwatch.Dashboard(stack, 'Mine');
    dashboard.addWidgets(...policy.widgets());
    expect(JSON.stringify(stack.resolve((dashboard.node.defaultChild as cloudwatch.CfnDashboard).dashboardBody))).toContain('InstancesUnprotected');
  });
});

describe('dashboard', () => {
  test('is not created by default', () => {
    const { policy, template } = build();
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    expect(policy.dashboard).toBeUndefined();
    expect(policy.node.tryFindChild('Dashboard')).toBeUndefined();
  });

  test('is created with dashboard: true, from the policy\'s widgets laid out in rows', () => {
    const { stack, policy, template } = build({ ...PROPS, dashboard: true });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    expect(policy.dashboard).toBe(policy.node.findChild('Dashboard'));
    const body = Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody;
    // Tokens (the Region, function names, state machine ARNs) stand in the JSON text as objects.
    const text = (body['Fn::Join'][1] as unknown[]).map((part) => (typeof part === 'string' ? part : 'TOKEN')).join('');
    const widgets = JSON.parse(text).widgets as WidgetJson[];
    expect(widgets.map((w) => [w.x, w.y, w.width])).toEqual([
      [0, 0, 24], [0, 1, 12], [12, 1, 12], [0, 7, 12], [12, 7, 12], [0, 13, 8], [8, 13, 8], [16, 13, 8], [0, 19, 12], [12, 19, 12],
    ]);
    for (const name of ['InstancesProtected', 'InstancesUnprotected', 'MaxLatestSetAge', 'SetsCreated', 'InstancesFailed', 'InstancesNotReached',
      'SetsDeleted', 'DeletesSkipped', 'DuplicatesDeleted', 'MyStack/Nightly', 'ExecutionsFailed']) {
      expect(text).toContain(`"${name}"`);
    }
    for (const fn of [policy.snapshotFunction, policy.cleanupFunction, policy.starterFunction!]) {
      expect(body['Fn::Join'][1]).toContainEqual(stack.resolve(fn.functionName));
    }
  });
});

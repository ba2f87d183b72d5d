// The example app the demo synthesizes: one SnapshotPolicy, as a user would write it.
import { App, Duration, Stack, TimeZone, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { Retention, SnapshotDestination, SnapshotPolicy } from '../lib';

export function buildApp(outdir: string): { app: App; stack: Stack; policy: SnapshotPolicy } {
  const app = new App({ outdir });
  const stack = new Stack(app, 'SnapshotDemo', { env: { account: '123456789012', region: 'us-east-1' } });
  const policy = new SnapshotPolicy(stack, 'Nightly', {
    instanceTags: { Backup: 'nightly' },
    schedule: scheduler.ScheduleExpression.cron({ hour: '3', minute: '0', timeZone: TimeZone.EUROPE_LONDON }),
    retention: Retention.keepLast(2),
    excludeDataVolumeTags: { NoBackup: 'true' },
    copyVolumeTags: true,
    snapshotTags: { Team: 'platform' },
    description: 'nightly',
    localZoneDestination: SnapshotDestination.LOCAL,
    outpostDestination: SnapshotDestination.PARENT_REGION,
    orphanRetention: Duration.days(30),
  });
  return { app, stack, policy };
}

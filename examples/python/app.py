#!/usr/bin/env python3
"""A CDK app in Python that backs up two fleets with cdk-snapshot-policy.

Run it as any CDK Python app: `pip install aws-cdk-lib constructs cdk-snapshot-policy`, then
`cdk synth --app "python3 app.py"`. scripts/check-python-example.py checks it against the generated
Python module on every CI run.
"""
from aws_cdk import App, CfnOutput, Duration, Environment, Stack, TimeZone
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from cdk_snapshot_policy import Retention, SnapshotDestination, SnapshotPolicy

app = App()
stack = Stack(app, "Backups", env=Environment(account="123456789012", region="eu-west-1"))

# Web servers: every night at 03:00 London time, a week of dailies, a month of weeklies, a year of monthlies.
web = SnapshotPolicy(
    stack,
    "WebNightly",
    instance_tags={"Backup": "nightly", "Role": "web"},
    schedule=scheduler.ScheduleExpression.cron(hour="3", minute="0", time_zone=TimeZone.EUROPE_LONDON),
    retention=Retention.keep(last=7, weekly=4, monthly=12),
    exclude_data_volume_tags={"NoBackup": "true"},
    snapshot_tags={"Team": "platform"},
    log_retention=logs.RetentionDays.SIX_MONTHS,
)

# Databases at the edge: hourly, kept two days, stored where the instance runs for data residency.
edge_db = SnapshotPolicy(
    stack,
    "EdgeDatabaseHourly",
    instance_tags={"Backup": "hourly", "Role": "db"},
    schedule=scheduler.ScheduleExpression.rate(Duration.hours(1)),
    cleanup_schedule=scheduler.ScheduleExpression.rate(Duration.hours(6)),
    retention=Retention.max_age(Duration.days(2)),
    local_zone_destination=SnapshotDestination.LOCAL,
    outpost_destination=SnapshotDestination.LOCAL,
    copy_volume_tags=True,
    policy_name="edge-db-hourly",
    orphan_retention=Duration.days(30),
    timeout=Duration.minutes(10),
)

for name, policy in (("Web", web), ("EdgeDatabase", edge_db)):
    CfnOutput(stack, f"{name}PolicyId", value=policy.policy_id)
    CfnOutput(stack, f"{name}SnapshotFunction", value=policy.snapshot_function.function_name)

app.synth()

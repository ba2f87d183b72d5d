// Unit tests of the handlers' configuration (lambda/config.ts): the environment strings the construct sets
// are parsed to typed values, and each malformed variable fails with its name, the rule and the value.
import { PolicyConfig, readBatchConfig, readConfig, readStarterConfig, stateMachineArnOf } from '../../lambda/support/config';

const MINIMAL = { POLICY_ID: 'stack/policy', INSTANCE_TAGS: '{"backup":"nightly"}' };

describe('readConfig', () => {
  test('fills in the defaults when only the policy id and instance tags are set', () => {
    expect(readConfig(MINIMAL)).toStrictEqual<PolicyConfig>({
      policyId: 'stack/policy',
      instanceTags: { backup: 'nightly' },
      excludeBootVolume: false,
      excludeDataVolumeTags: {},
      copyVolumeTags: false,
      snapshotTags: {},
      description: '',
      localZoneDestination: 'PARENT_REGION',
      outpostDestination: 'PARENT_REGION',
      dryRun: false,
      retention: { last: 7 },
      timeZone: 'UTC',
      errorGraceSeconds: 86_400,
      holdTag: 'snapshot-policy:hold',
      orphanRetentionSeconds: undefined,
      maxSetAgeSeconds: 172_800,
      mutateBurst: 100,
      mutateRatePerSecond: 5,
      concurrency: 8,
      safetyMarginSeconds: 30,
    });
  });

  test('parses every variable the construct sets', () => {
    expect(readConfig({
      POLICY_ID: 'prod-db',
      INSTANCE_TAGS: '{"backup":"nightly","env":"prod"}',
      EXCLUDE_BOOT_VOLUME: 'true',
      EXCLUDE_DATA_VOLUME_TAGS: '{"nobackup":"true"}',
      COPY_VOLUME_TAGS: 'true',
      SNAPSHOT_TAGS: '{"team":"db","cost-center":"42"}',
      DESCRIPTION: 'nightly set of prod-db',
      LOCAL_ZONE_DESTINATION: 'LOCAL',
      OUTPOST_DESTINATION: 'LOCAL',
      DRY_RUN: 'true',
      RETENTION: '{"last":3,"hourly":24,"daily":7,"weekly":4,"monthly":12,"yearly":2,"withinSeconds":172800}',
      TIME_ZONE: 'Europe/London',
      ERROR_GRACE_SECONDS: '3600',
      HOLD_TAG: 'legal-hold',
      ORPHAN_RETENTION_SECONDS: '7776000',
      MAX_SET_AGE_SECONDS: '93600',
      MUTATE_BURST: '50',
      MUTATE_RATE_PER_SECOND: '2.5',
      CONCURRENCY: '16',
      SAFETY_MARGIN_SECONDS: '45',
    })).toStrictEqual<PolicyConfig>({
      policyId: 'prod-db',
      instanceTags: { backup: 'nightly', env: 'prod' },
      excludeBootVolume: true,
      excludeDataVolumeTags: { nobackup: 'true' },
      copyVolumeTags: true,
      snapshotTags: { 'team': 'db', 'cost-center': '42' },
      description: 'nightly set of prod-db',
      localZoneDestination: 'LOCAL',
      outpostDestination: 'LOCAL',
      dryRun: true,
      retention: { last: 3, hourly: 24, daily: 7, weekly: 4, monthly: 12, yearly: 2, withinSeconds: 172_800 },
      timeZone: 'Europe/London',
      errorGraceSeconds: 3600,
      holdTag: 'legal-hold',
      orphanRetentionSeconds: 7_776_000,
      maxSetAgeSeconds: 93_600,
      mutateBurst: 50,
      mutateRatePerSecond: 2.5,
      concurrency: 16,
      safetyMarginSeconds: 45,
    });
  });

  test('reads false as false and zero as zero', () => {
    const config = readConfig({
      ...MINIMAL,
      EXCLUDE_BOOT_VOLUME: 'false',
      COPY_VOLUME_TAGS: 'false',
      DRY_RUN: 'false',
      ERROR_GRACE_SECONDS: '0',
      ORPHAN_RETENTION_SECONDS: '0',
      SAFETY_MARGIN_SECONDS: '0',
    });
    expect([config.excludeBootVolume, config.copyVolumeTags, config.dryRun]).toEqual([false, false, false]);
    expect([config.errorGraceSeconds, config.orphanRetentionSeconds, config.safetyMarginSeconds]).toEqual([0, 0, 0]);
  });

  test('treats an empty variable as unset', () => {
    expect(readConfig({
      ...MINIMAL,
      EXCLUDE_BOOT_VOLUME: '',
      EXCLUDE_DATA_VOLUME_TAGS: '',
      SNAPSHOT_TAGS: '',
      RETENTION: '',
      TIME_ZONE: '',
      ERROR_GRACE_SECONDS: '',
      HOLD_TAG: '',
      ORPHAN_RETENTION_SECONDS: '',
      MUTATE_BURST: '',
      CONCURRENCY: '',
    })).toStrictEqual(readConfig(MINIMAL));
  });

  test('accepts retention rules of zero beside one that keeps something', () => {
    expect(readConfig({ ...MINIMAL, RETENTION: '{"last":0,"daily":7}' }).retention).toEqual({ last: 0, daily: 7 });
  });

  test.each([
    [{ POLICY_ID: undefined }, 'environment variable POLICY_ID is required'],
    [{ POLICY_ID: '' }, 'environment variable POLICY_ID is required'],
    [{ INSTANCE_TAGS: undefined }, 'environment variable INSTANCE_TAGS must name at least one tag'],
    [{ INSTANCE_TAGS: '{}' }, 'environment variable INSTANCE_TAGS must name at least one tag'],
    [{ INSTANCE_TAGS: 'backup=nightly' }, 'environment variable INSTANCE_TAGS must be a JSON object of strings, got "backup=nightly"'],
    [{ INSTANCE_TAGS: '["backup"]' }, 'environment variable INSTANCE_TAGS must be a JSON object of strings, got "[\\"backup\\"]"'],
    [{ INSTANCE_TAGS: 'null' }, 'environment variable INSTANCE_TAGS must be a JSON object of strings, got "null"'],
    [{ INSTANCE_TAGS: '{"backup":true}' }, 'environment variable INSTANCE_TAGS must be a JSON object of strings, got "{\\"backup\\":true}"'],
    [{ EXCLUDE_DATA_VOLUME_TAGS: '{"nobackup":1}' }, 'environment variable EXCLUDE_DATA_VOLUME_TAGS must be a JSON object of strings, got "{\\"nobackup\\":1}"'],
    [{ SNAPSHOT_TAGS: '"team"' }, 'environment variable SNAPSHOT_TAGS must be a JSON object of strings, got "\\"team\\""'],
    [{ EXCLUDE_BOOT_VOLUME: 'yes' }, 'environment variable EXCLUDE_BOOT_VOLUME must be true or false, got "yes"'],
    [{ COPY_VOLUME_TAGS: 'TRUE' }, 'environment variable COPY_VOLUME_TAGS must be true or false, got "TRUE"'],
    [{ DRY_RUN: '1' }, 'environment variable DRY_RUN must be true or false, got "1"'],
    [{ LOCAL_ZONE_DESTINATION: 'local' }, 'environment variable LOCAL_ZONE_DESTINATION must be PARENT_REGION or LOCAL, got "local"'],
    [{ OUTPOST_DESTINATION: 'OUTPOST_LOCAL' }, 'environment variable OUTPOST_DESTINATION must be PARENT_REGION or LOCAL, got "OUTPOST_LOCAL"'],
    [{ RETENTION: 'last=7' }, 'environment variable RETENTION must be JSON, got "last=7"'],
    [{ RETENTION: '[7]' }, 'environment variable RETENTION must be a JSON object, got "[7]"'],
    [{ RETENTION: '7' }, 'environment variable RETENTION must be a JSON object, got "7"'],
    [{ RETENTION: '{"lastN":7}' }, 'environment variable RETENTION has an invalid rule lastN=7'],
    [{ RETENTION: '{"last":-1}' }, 'environment variable RETENTION has an invalid rule last=-1'],
    [{ RETENTION: '{"daily":1.5}' }, 'environment variable RETENTION has an invalid rule daily=1.5'],
    [{ RETENTION: '{"weekly":"4"}' }, 'environment variable RETENTION has an invalid rule weekly="4"'],
    [{ RETENTION: '{"withinSeconds":null}' }, 'environment variable RETENTION has an invalid rule withinSeconds=null'],
    [{ RETENTION: '{}' }, 'environment variable RETENTION keeps nothing: {}'],
    [{ RETENTION: '{"last":0,"daily":0}' }, 'environment variable RETENTION keeps nothing: {"last":0,"daily":0}'],
    [{ TIME_ZONE: 'Europe/Lundon' }, 'environment variable TIME_ZONE must be an IANA time zone, got "Europe/Lundon"'],
    [{ ERROR_GRACE_SECONDS: 'one day' }, 'environment variable ERROR_GRACE_SECONDS must be a number of at least 0, got "one day"'],
    [{ ERROR_GRACE_SECONDS: '-1' }, 'environment variable ERROR_GRACE_SECONDS must be a number of at least 0, got "-1"'],
    [{ ORPHAN_RETENTION_SECONDS: '90d' }, 'environment variable ORPHAN_RETENTION_SECONDS must be a number of at least 0, got "90d"'],
    [{ MAX_SET_AGE_SECONDS: '0' }, 'environment variable MAX_SET_AGE_SECONDS must be a number of at least 1, got "0"'],
    [{ MUTATE_BURST: '0' }, 'environment variable MUTATE_BURST must be a number of at least 1, got "0"'],
    [{ MUTATE_RATE_PER_SECOND: '0' }, 'environment variable MUTATE_RATE_PER_SECOND must be a number of at least 0.001, got "0"'],
    [{ CONCURRENCY: 'Infinity' }, 'environment variable CONCURRENCY must be a number of at least 1, got "Infinity"'],
    [{ CONCURRENCY: '0' }, 'environment variable CONCURRENCY must be a number of at least 1, got "0"'],
    [{ SAFETY_MARGIN_SECONDS: 'NaN' }, 'environment variable SAFETY_MARGIN_SECONDS must be a number of at least 0, got "NaN"'],
  ])('rejects %j', (overrides, message) => {
    expect(() => readConfig({ ...MINIMAL, ...overrides })).toThrow(new Error(message));
  });

  test('names exactly the malformed variable, not another', () => {
    expect(() => readConfig({ ...MINIMAL, DRY_RUN: 'maybe' })).toThrow(/^environment variable DRY_RUN /);
    expect(() => readConfig({ ...MINIMAL, SAFETY_MARGIN_SECONDS: '-5' })).toThrow(/^environment variable SAFETY_MARGIN_SECONDS /);
  });
});

describe('readBatchConfig', () => {
  const BATCH = { ...MINIMAL, PLAN_BUCKET: 'plans', BATCH_SIZE: '250' };

  test('reads the policy, the plan bucket and the batch size', () => {
    expect(readBatchConfig(BATCH)).toStrictEqual({ ...readConfig(MINIMAL), planBucket: 'plans', batchSize: 250 });
  });

  test.each([
    [{ PLAN_BUCKET: undefined }, 'environment variable PLAN_BUCKET is required'],
    [{ PLAN_BUCKET: '' }, 'environment variable PLAN_BUCKET is required'],
    [{ BATCH_SIZE: undefined }, 'environment variable BATCH_SIZE is required'],
    [{ BATCH_SIZE: '0' }, 'environment variable BATCH_SIZE must be a whole number of at least 1, got "0"'],
    [{ BATCH_SIZE: '2.5' }, 'environment variable BATCH_SIZE must be a whole number of at least 1, got "2.5"'],
    [{ BATCH_SIZE: 'ten' }, 'environment variable BATCH_SIZE must be a whole number of at least 1, got "ten"'],
    [{ INSTANCE_TAGS: '{}' }, 'environment variable INSTANCE_TAGS must name at least one tag'],
  ])('rejects %j', (overrides, message) => {
    expect(() => readBatchConfig({ ...BATCH, ...overrides })).toThrow(new Error(message));
  });
});

describe('readStarterConfig', () => {
  test('reads the state machine of each run kind that is set', () => {
    const config = readStarterConfig({ ...MINIMAL, STATE_MACHINE_ARN: 'arn:run', CLEANUP_STATE_MACHINE_ARN: 'arn:cleanup' });
    expect(config.stateMachineArns).toStrictEqual({ snapshots: 'arn:run', cleanup: 'arn:cleanup' });
    expect([stateMachineArnOf(config, 'snapshots'), stateMachineArnOf(config, 'cleanup')]).toEqual(['arn:run', 'arn:cleanup']);
  });

  test.each([
    ['snapshots', 'environment variable STATE_MACHINE_ARN is required'],
    ['cleanup', 'environment variable CLEANUP_STATE_MACHINE_ARN is required'],
  ] as const)('asked for %s without its state machine, names the missing variable', (run, message) => {
    const config = readStarterConfig({ ...MINIMAL, STATE_MACHINE_ARN: '', CLEANUP_STATE_MACHINE_ARN: undefined });
    expect(() => stateMachineArnOf(config, run)).toThrow(new Error(message));
  });
});

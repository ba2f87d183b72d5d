// `npm run demo`: synthesizes the example app, then runs the handler code of the synthesized assets
// against a local moto EC2 emulator: a small fleet, a few schedule slots, then the retention clean-up.
import * as fs from 'fs';
import * as path from 'path';
import {
  AttachVolumeCommand, CreateSnapshotCommand, CreateVolumeCommand, DescribeImagesCommand, DescribeInstancesCommand,
  DescribeSnapshotsCommand, EC2Client, RunInstancesCommand, Tag,
} from '@aws-sdk/client-ec2';
import { buildApp } from './app';
import { groupSets } from '../lambda/logic/decide-sets';
import { ownerOf } from '../lambda/logic/ownership';
import { instanceFilters, planSnapshots } from '../lambda/logic/plan';
import { protectionStatus } from '../lambda/logic/protection';
import { startMoto } from '../test/support/moto-server';
import { startRecordingProxy } from '../test/support/recording-proxy';

const OUTDIR = path.join(__dirname, 'cdk.out');

interface SynthFunction {
  readonly env: Record<string, string>;
  readonly assetDir: string;
  /** The export the function's `handler` names (`index.<export>`). */
  readonly exportName: string;
}

/** Finds a function's environment and asset folder in the synthesized cloud assembly. */
function synthesizedFunction(template: any, assets: any, logicalIdPrefix: string): SynthFunction {
  const [id, resource] = Object.entries<any>(template.Resources).find(
    ([logicalId, r]) => r.Type === 'AWS::Lambda::Function' && logicalId.startsWith(logicalIdPrefix),
  )!;
  // The function's S3 key is "<asset hash>.zip"; the asset manifest says which folder that hash is.
  const hash = String(resource.Properties.Code.S3Key).replace(/\.zip$/, '');
  const source = assets.files[hash]?.source;
  if (!source || source.packaging !== 'zip') throw new Error(`no zip asset ${hash} for ${id}`);
  return {
    env: resource.Properties.Environment.Variables,
    assetDir: path.join(OUTDIR, source.path),
    exportName: String(resource.Properties.Handler).replace(/^index\./, ''),
  };
}

/** Loads a handler from its asset folder with the given environment, capturing its JSON log lines. */
async function invoke(fn: SynthFunction, extraEnv: Record<string, string>, event: unknown): Promise<{ result: any; logs: any[] }> {
  Object.assign(process.env, fn.env, extraEnv);
  const entry = path.join(fn.assetDir, 'index.js');
  delete require.cache[require.resolve(entry)];
  // The asset is a built file chosen at run time, so it is loaded with require, not imported.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const handler = require(entry)[fn.exportName];
  const logs: any[] = [];
  const original = { log: console.log, warn: console.warn, error: console.error };
  const capture = (line: unknown) => {
    try { logs.push(JSON.parse(String(line))); } catch { logs.push({ text: String(line) }); }
  };
  console.log = console.warn = console.error = capture;
  // Powertools writes the embedded-metric lines straight to stdout.
  const write = process.stdout.write;
  process.stdout.write = ((chunk: unknown) => {
    String(chunk).split('\n').filter((l) => l !== '').forEach(capture);
    return true;
  }) as typeof process.stdout.write;
  try {
    const result = await handler(event, { getRemainingTimeInMillis: () => 5 * 60_000 });
    return { result, logs };
  } finally {
    Object.assign(console, original);
    process.stdout.write = write;
  }
}

/** The CloudWatch metrics a handler published, from its embedded-metric-format log line. */
function metricsOf(logs: any[]): string {
  const emf = logs.find((l) => l._aws);
  if (!emf) return 'none published';
  const names: string[] = emf._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name);
  return names.map((n) => `${n}=${emf[n]}`).join(' ');
}

const tags = (t: Record<string, string>): Tag[] => Object.entries(t).map(([Key, Value]) => ({ Key, Value }));

type Launcher = (name: string, instanceTags: Record<string, string>, zone?: string) => Promise<string>;

/** Launches named instances into moto, recording each id's name in `names`. */
async function launcher(ec2: EC2Client, names: Record<string, string>): Promise<Launcher> {
  const images = await ec2.send(new DescribeImagesCommand({}));
  const imageId = images.Images![0].ImageId!;
  return async (name, instanceTags, zone = 'us-east-1a') => {
    const out = await ec2.send(new RunInstancesCommand({
      ImageId: imageId,
      MinCount: 1,
      MaxCount: 1,
      InstanceType: 't3.micro',
      Placement: { AvailabilityZone: zone },
      TagSpecifications: [{ ResourceType: 'instance', Tags: tags({ Name: name, ...instanceTags }) }],
    }));
    const id = out.Instances![0].InstanceId!;
    names[id] = name;
    return id;
  };
}

async function seedFleet(ec2: EC2Client, launch: Launcher): Promise<void> {
  await launch('web-1', { Backup: 'nightly' });
  await launch('web-2', { Backup: 'nightly' }, 'us-east-1b');
  const db = await launch('db-1', { Backup: 'nightly', Role: 'db' });
  await launch('scratch', { Backup: 'never' });
  await launch('untagged', {});
  // db-1 gets two data volumes; the scratch one is tagged to be left out of its sets.
  for (const [device, volumeTags] of [['/dev/sdf', { Name: 'db-data' }], ['/dev/sdg', { Name: 'db-tmp', NoBackup: 'true' }]] as const) {
    const volume = await ec2.send(new CreateVolumeCommand({
      AvailabilityZone: 'us-east-1a', Size: 10, TagSpecifications: [{ ResourceType: 'volume', Tags: tags(volumeTags) }],
    }));
    await ec2.send(new AttachVolumeCommand({ VolumeId: volume.VolumeId!, InstanceId: db, Device: device }));
  }
  // A snapshot the policy must never touch.
  const foreign = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }));
  await ec2.send(new CreateSnapshotCommand({
    VolumeId: foreign.VolumeId!, Description: 'hand-made', TagSpecifications: [{ ResourceType: 'snapshot', Tags: tags({ Owner: 'someone-else' }) }],
  }));
}

/** The last `count` daily 03:00 UTC slots before now, oldest first: recent, so the protection table means something. */
function recentSlots(count: number, now: Date): string[] {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 3);
  const newest = today <= now.getTime() ? today : today - 86_400_000;
  return Array.from({ length: count }, (_, i) => new Date(newest - (count - 1 - i) * 86_400_000).toISOString().replace('.000', ''));
}

/**
 * The protection of every tagged instance, worked out from what moto holds with the handlers' own logic, next
 * to what the clean-up reported: the two must agree.
 */
async function printProtection(ec2: EC2Client, env: Record<string, string>, cleanup: any, label: (id: string) => string): Promise<void> {
  const policy = { policyId: env.POLICY_ID, instanceTags: JSON.parse(env.INSTANCE_TAGS) as Record<string, string> };
  const now = new Date();
  const snapshots = ((await ec2.send(new DescribeSnapshotsCommand({}))).Snapshots ?? []).map((s) => ({
    snapshotId: s.SnapshotId!,
    state: s.State ?? 'unknown',
    startTime: s.StartTime?.toISOString(),
    description: s.Description,
    volumeId: s.VolumeId,
    tags: Object.fromEntries((s.Tags ?? []).map((t) => [t.Key!, t.Value ?? ''])),
  }));
  const instances = ((await ec2.send(new DescribeInstancesCommand({ Filters: instanceFilters(policy.instanceTags) }))).Reservations ?? [])
    .flatMap((r) => r.Instances ?? [])
    .filter((i) => Object.entries(policy.instanceTags).every(([k, v]) => i.Tags?.some((t) => t.Key === k && t.Value === v)))
    .map((i) => ({ instanceId: i.InstanceId!, launchTime: i.LaunchTime?.toISOString() }));
  const { sets } = groupSets(snapshots, ownerOf(policy, now), env.HOLD_TAG);
  const status = protectionStatus(instances, sets, now, Number(env.MAX_SET_AGE_SECONDS));
  const hours = (seconds: number) => `${(seconds / 3600).toFixed(1)} h`;
  console.log(`
== Protection (maxSetAge ${hours(Number(env.MAX_SET_AGE_SECONDS))}): every tagged instance and its newest completed set`);
  console.log(`  ${'instance'.padEnd(32)} ${'newest set'.padEnd(21)} ${'age'.padEnd(9)} status`);
  for (const p of status.instances) {
    console.log(`  ${label(p.instanceId).padEnd(32)} ${(p.newestCompletedSlot ?? 'none').padEnd(21)} ${hours(p.latestSetAgeSeconds).padEnd(9)} ` +
      `${p.protected ? 'protected' : 'UNPROTECTED'}${p.newestCompletedSlot ? '' : ' (no set yet: counted from launch)'}`);
  }
  const agrees = cleanup.protectedInstances === status.protectedCount &&
    JSON.stringify(cleanup.unprotectedInstanceIds) === JSON.stringify(status.instances.filter((p) => !p.protected).map((p) => p.instanceId));
  console.log(`  the clean-up reported ${cleanup.protectedInstances} protected, unprotected [${cleanup.unprotectedInstanceIds.map(label).join(', ')}], ` +
    `worst age ${hours(cleanup.maxLatestSetAgeSeconds)}: ${agrees ? 'agrees' : 'DISAGREES'} with the table`);
  if (!agrees) throw new Error('the clean-up\'s protection status disagrees with the table');
}

function printPlacementMatrix(env: Record<string, string>) {
  // moto reports every zone as an Availability Zone and no Outposts, so show the planner's other decisions
  // on plain data: this is exactly the function the handler calls.
  const plan = planSnapshots({
    slot: '2026-01-01T03:00:00Z',
    instances: [
      { instanceId: 'i-region', availabilityZone: 'us-east-1a', volumes: [{ volumeId: 'vol-1' }], tags: { Backup: 'nightly' } },
      { instanceId: 'i-localzone', availabilityZone: 'us-east-1-bos-1a', volumes: [{ volumeId: 'vol-2' }], tags: { Backup: 'nightly' } },
      { instanceId: 'i-outpost', availabilityZone: 'us-east-1a', outpostArn: 'arn:aws:outposts:us-east-1:123456789012:outpost/op-0123456789abcdef0', volumes: [{ volumeId: 'vol-3' }], tags: { Backup: 'nightly' } },
      { instanceId: 'i-wavelength', availabilityZone: 'us-east-1-wl1-bos-wlz-1', volumes: [{ volumeId: 'vol-4' }], tags: { Backup: 'nightly' } },
    ],
    zoneTypes: new Map([['us-east-1a', 'availability-zone'], ['us-east-1-bos-1a', 'local-zone'], ['us-east-1-wl1-bos-wlz-1', 'wavelength-zone']]),
    taggedVolumes: [],
    options: {
      policyId: env.POLICY_ID,
      instanceTags: JSON.parse(env.INSTANCE_TAGS),
      excludeBootVolume: false,
      excludeDataVolumeTags: {},
      copyVolumeTags: false,
      snapshotTags: {},
      description: '',
      dryRun: false,
      localZoneDestination: env.LOCAL_ZONE_DESTINATION as 'LOCAL',
      outpostDestination: env.OUTPOST_DESTINATION as 'PARENT_REGION',
    },
  });
  console.log(`\nPlacement decisions (localZoneDestination=${env.LOCAL_ZONE_DESTINATION}, outpostDestination=${env.OUTPOST_DESTINATION}):`);
  for (const r of plan.requests) {
    const where = r.params.Location ? `Location=${r.params.Location}` : r.params.OutpostArn ? `OutpostArn=${r.params.OutpostArn}` : 'no Location/OutpostArn';
    console.log(`  ${r.instanceId.padEnd(13)} ${r.placement.padEnd(16)} ${where}`);
  }
}

async function main() {
  // The SDK warns about Node 20 on every client; the Lambda runtime is Node 22, so keep the demo readable.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  fs.rmSync(OUTDIR, { recursive: true, force: true });
  const { app } = buildApp(OUTDIR);
  const assembly = app.synth();
  const artifact = assembly.getStackByName('SnapshotDemo');
  const template = artifact.template;
  const assets = JSON.parse(fs.readFileSync(path.join(OUTDIR, `${artifact.stackName}.assets.json`), 'utf8'));
  const snapshotFn = synthesizedFunction(template, assets, 'NightlySnapshotFunction');
  const cleanupFn = synthesizedFunction(template, assets, 'NightlyCleanupFunction');
  console.log(`Synthesized ${OUTDIR}: policy ${snapshotFn.env.POLICY_ID}, retention ${snapshotFn.env.RETENTION}`);
  console.log(`  snapshot handler asset ${path.relative(process.cwd(), snapshotFn.assetDir)} (${fs.statSync(path.join(snapshotFn.assetDir, 'index.js')).size} bytes)`);
  printPlacementMatrix(snapshotFn.env);

  const moto = await startMoto();
  // moto has no snapshot locks, which every clean-up lists: the handlers reach it through a proxy that answers
  // DescribeLockedSnapshots (test/support/recording-proxy.ts).
  const proxy = await startRecordingProxy(moto.endpoint);
  console.log(`\nmoto EC2 emulator on ${moto.endpoint} (pid ${moto.pid}), the handlers through ${proxy.endpoint}`);
  const awsEnv = {
    AWS_ENDPOINT_URL_EC2: proxy.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'demo', AWS_SECRET_ACCESS_KEY: 'demo',
  };
  Object.assign(process.env, awsEnv);
  const ec2 = new EC2Client({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'demo', secretAccessKey: 'demo' } });
  try {
    const names: Record<string, string> = {};
    const launch = await launcher(ec2, names);
    await seedFleet(ec2, launch);
    const label = (id: string) => `${id} (${names[id] ?? '?'})`;
    console.log(`Fleet: ${Object.entries(names).map(([id, n]) => `${n}=${id}`).join(', ')}`);

    const slots = recentSlots(4, new Date());
    for (const [n, slot] of slots.entries()) {
      console.log(`\n== Run ${n + 1}, slot ${slot}`);
      const { result: report, logs: runLogs } = await invoke(snapshotFn, awsEnv, { slot });
      if (n === 0) {
        // The plan, as the run logs it: one `planned` line per instance, one `plan-failed` line per instance it cannot plan.
        for (const p of runLogs.filter((l) => l.event === 'planned')) {
          console.log(`  plan ${label(p.instanceId)}: placement=${p.placement} zone=${p.zone} volumes=[${p.volumeIds.join(', ')}]` +
            ` excluded=[${p.excludedVolumeIds.join(', ')}]${p.location ? ` Location=${p.location}` : ''}${p.outpostArn ? ` OutpostArn=${p.outpostArn}` : ''}`);
        }
        for (const e of runLogs.filter((l) => l.event === 'plan-failed')) console.log(`  plan ${label(e.instanceId)}: ERROR ${e.error}`);
        console.log('  (moto ignores ExcludeDataVolumeIds, CopyTagsFromSource, Location and OutpostArn: it snapshots every ' +
          'volume, so db-1 gets 3 snapshots here where EC2 would make 2; the plan above is what EC2 is asked for)');
      }
      for (const o of report.outcomes) {
        console.log(`  ${o.status.padEnd(8)} ${label(o.instanceId)}${o.snapshotIds ? ` -> ${o.snapshotIds.join(', ')}` : ''}${o.error ? ` ${o.error}` : ''}`);
      }
      console.log(`  totals: planned=${report.planned} created=${report.created} failed=${report.failed} not-reached=${report.notReached}`);
      console.log(`  metrics: ${metricsOf(runLogs)}`);
    }

    console.log(`\n== Run 4 again (a duplicated delivery of slot ${slots[3]})`);
    const { result: again } = await invoke(snapshotFn, awsEnv, { slot: slots[3] });
    console.log(`  totals: created=${again.created} already-done=${again.alreadyDone}: no second set for the slot`);

    const late = await launch('web-3', { Backup: 'nightly' });
    console.log(`\nweb-3 (${late}) is launched with Backup=nightly after the last run: it has no set yet`);

    console.log('\n== Retention clean-up (keepLast 2)');
    const { result: cleanup, logs } = await invoke(cleanupFn, awsEnv, {});
    for (const line of logs.filter((l) => l.event === 'set-keep' || l.event === 'set-delete')) {
      console.log(`  ${line.event === 'set-keep' ? 'keep  ' : 'delete'} ${label(line.instanceId)} slot ${line.slot} [${line.reasons.join(', ')}] ${line.snapshotIds.join(', ')}`);
    }
    console.log(`  metrics: ${metricsOf(logs)}`);
    console.log(`  totals: sets kept=${cleanup.setsKept} sets deleted=${cleanup.setsDeleted} snapshots deleted=${cleanup.snapshotsDeleted} skipped=${cleanup.snapshotsSkipped.length}`);
    for (const line of logs.filter((l) => l.event === 'instance-unprotected')) {
      console.log(`  instance-unprotected ${label(line.instanceId)}: newest completed set ${line.newestCompletedSlot ?? 'none'}`);
    }

    const left = (await ec2.send(new DescribeSnapshotsCommand({}))).Snapshots ?? [];
    const tagOf = (s: { Tags?: Tag[] }, key: string) => s.Tags?.find((t) => t.Key === key)?.Value;
    const policySnapshots = left.filter((s) => tagOf(s, 'snapshot-policy:id') === snapshotFn.env.POLICY_ID);
    const bySet = new Map<string, string[]>();
    for (const s of policySnapshots) {
      const key = `${label(tagOf(s, 'snapshot-policy:instance-id')!)} slot ${tagOf(s, 'snapshot-policy:slot')}`;
      bySet.set(key, [...(bySet.get(key) ?? []), s.SnapshotId!]);
    }
    console.log(`\nSnapshot sets of the policy left in the emulator: ${bySet.size} (${policySnapshots.length} snapshots)`);
    for (const [key, ids] of [...bySet].sort()) console.log(`  ${key}: ${ids.join(', ')}`);
    const handMade = left.filter((s) => tagOf(s, 'Owner') === 'someone-else');
    console.log(`Snapshots not of the policy: ${left.length - policySnapshots.length} (moto's AMI snapshots and ` +
      `${handMade.map((s) => `${s.SnapshotId} "${s.Description}"`).join(', ')}), none touched`);
    await printProtection(ec2, snapshotFn.env, cleanup, label);
  } finally {
    await proxy.stop();
    await moto.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

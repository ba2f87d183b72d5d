// SDK helpers for tests against the moto EC2 emulator: a client for it, one of the AMIs moto ships, and
// instances launched with their tags, the ids of their root volumes at hand.
import { DescribeImagesCommand, EC2Client, RunInstancesCommand, Tag } from '@aws-sdk/client-ec2';

export const REGION = 'us-east-1';

/**
 * One of the AMIs moto loads at start and after every reset (moto/ec2/resources/amis.json.gz). Asking for it by
 * id is fast; DescribeImages without a filter takes seconds, as moto lists over a thousand images.
 */
export const IMAGE_ID = 'ami-03cf127a';

/** The environment of a process whose SDK clients should talk to the emulator (moto takes any credentials). */
export function emulatorEnv(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_EC2: endpoint,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    // The SDK warns once per process that Node 20 support ends; the warning says nothing about these tests.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

export function emulatorClient(endpoint: string): EC2Client {
  return new EC2Client({ endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
}

export function tagList(tags: Record<string, string>): Tag[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

export function tagRecord(tags: Tag[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

/** Fails with a clear message when the emulator no longer ships IMAGE_ID. */
export async function assertImage(ec2: EC2Client): Promise<void> {
  const out = await ec2.send(new DescribeImagesCommand({ ImageIds: [IMAGE_ID] }));
  if (out.Images?.length !== 1) throw new Error(`moto does not ship ${IMAGE_ID} any more: pick another of its AMIs`);
}

export interface Launched {
  readonly instanceId: string;
  readonly rootVolumeId: string;
}

export async function launch(ec2: EC2Client, tags: Record<string, string>, zone = 'us-east-1a'): Promise<Launched> {
  const out = await ec2.send(new RunInstancesCommand({
    ImageId: IMAGE_ID,
    MinCount: 1,
    MaxCount: 1,
    InstanceType: 't3.micro',
    Placement: { AvailabilityZone: zone },
    ...(Object.keys(tags).length > 0 ? { TagSpecifications: [{ ResourceType: 'instance', Tags: tagList(tags) }] } : {}),
  }));
  const instance = out.Instances?.[0];
  const rootVolumeId = instance?.BlockDeviceMappings?.find((m) => m.DeviceName === instance.RootDeviceName)?.Ebs?.VolumeId;
  if (!instance?.InstanceId || !rootVolumeId) throw new Error(`RunInstances gave no instance with a root volume: ${JSON.stringify(out)}`);
  return { instanceId: instance.InstanceId, rootVolumeId };
}

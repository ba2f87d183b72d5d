// The benchmarks' fleet in moto: instances carrying FLEET_TAG, launched one reservation of SEED_CHUNK at a time
// and spread over three zones (moto pages DescribeInstances by reservation, see bench/README.md).
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';

export const SEED_CHUNK = 250;
export const ZONES = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
export const FLEET_TAG = { Key: 'BenchFleet', Value: 'yes' };

/** Grows `fleet` (instance ids, appended in place) to `size` running tagged instances. */
export async function growFleet(ec2: EC2Client, imageId: string, fleet: string[], size: number): Promise<void> {
  while (fleet.length < size) {
    const count = Math.min(SEED_CHUNK, size - fleet.length);
    const out = await ec2.send(new RunInstancesCommand({
      ImageId: imageId,
      InstanceType: 't3.micro',
      MinCount: count,
      MaxCount: count,
      Placement: { AvailabilityZone: ZONES[Math.floor(fleet.length / SEED_CHUNK) % ZONES.length] },
      TagSpecifications: [{ ResourceType: 'instance', Tags: [FLEET_TAG] }],
    }));
    for (const i of out.Instances ?? []) fleet.push(i.InstanceId!);
  }
}

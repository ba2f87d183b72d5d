// Where the snapshot sets of instances outside a Region's Availability Zones are stored.

/**
 * Where snapshots of an instance in a Local Zone or on an Outpost are stored.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSnapshots.html
 */
export enum SnapshotDestination {
  /**
   * In the parent Region of the Local Zone or Outpost (`Location=regional`, or no `OutpostArn`).
   * The snapshots survive the loss of the zone or Outpost.
   */
  PARENT_REGION = 'PARENT_REGION',
  /**
   * Where the instance is: in its Local Zone (`Location=local`) or on its Outpost (`OutpostArn` of the
   * instance's Outpost). Keeps data in place, for data-residency rules.
   */
  LOCAL = 'LOCAL',
}

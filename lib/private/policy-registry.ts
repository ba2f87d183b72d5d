// The policy ids in use in one app: two policies with the same id would tag their snapshots alike, and
// each one's clean-up would delete the other's sets by its own retention rules.
import { Token } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';

/** Per app (the root of the construct tree): policy id to the path of the policy that took it. */
const idsByRoot = new WeakMap<IConstruct, Map<string, string>>();

/** Records the policy's id in its app; throws when another policy of the app already has it. */
export function registerPolicyId(policy: Construct, policyId: string): void {
  if (Token.isUnresolved(policyId)) return;
  const root = policy.node.root;
  const ids = idsByRoot.get(root) ?? new Map<string, string>();
  idsByRoot.set(root, ids);
  const taken = ids.get(policyId);
  if (taken !== undefined) {
    throw new Error(`invalid SnapshotPolicy props at ${policy.node.path}: policy id must be unique in the app, got "${policyId}", ` +
      `the id of ${taken} too (set policyName on one of them)`);
  }
  ids.set(policyId, policy.node.path);
}

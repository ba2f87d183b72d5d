// What every phase of an orchestrated run or clean-up works with, built once per container by the entry
// point, and the reference to one batch in the plan store that the phases hand each other.
import type { Ec2Adapter } from '../adapters/ec2';
import type { PlanStore } from '../adapters/plan-store';
import { BatchConfig } from '../support/config';

export interface PhaseContext {
  readonly config: BatchConfig;
  readonly ec2: Ec2Adapter;
  readonly store: PlanStore;
}

export interface BatchRef {
  readonly index: number;
  readonly key: string;
  readonly size: number;
}

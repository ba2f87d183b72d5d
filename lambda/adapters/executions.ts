// Step Functions executions for the starter: start one, named after its slot. The only module that talks
// to Step Functions.
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';

/** Started, with the execution's ARN; or not, because an execution of that name exists (a duplicate start). */
export type StartOutcome = { readonly started: true; readonly executionArn?: string } | { readonly started: false };

/** What the starter needs of Step Functions; runs depend on this, not on the SDK. */
export interface Executions {
  start(stateMachineArn: string, name: string, input: unknown): Promise<StartOutcome>;
}

export class SfnExecutions implements Executions {
  constructor(readonly sfn: SFNClient = new SFNClient({})) {}

  async start(stateMachineArn: string, name: string, input: unknown): Promise<StartOutcome> {
    try {
      const out = await this.sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
      return { started: true, executionArn: out.executionArn };
    } catch (error) {
      // Execution names are unique per state machine for 90 days: a retried or duplicated start finds it taken.
      if (error instanceof ExecutionAlreadyExists) return { started: false };
      throw error;
    }
  }
}

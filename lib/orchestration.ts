// How a run is carried out: in one Lambda invocation, or as a Step Functions execution that cuts it into
// batches for fleets too large for one invocation.
// The state machines themselves are built by lib/private/batched-execution.ts.

/**
 * How a snapshot run is carried out.
 */
export enum Orchestration {
  /**
   * One Lambda invocation plans and sends every request: the simplest and cheapest, for fleets up to
   * about 4,000 instances (EC2's CreateSnapshots rate of 5 per second over Lambda's 15 minutes).
   */
  LAMBDA = 'LAMBDA',
  /**
   * A Step Functions execution per slot (named after the slot, so a duplicated invocation cannot start a
   * second run): one step plans the run and writes it to S3 in batches sized to the rate budget, a Map
   * state sends the batches one after the other through the same executor code, with retries, and a final
   * step reports. The clean-up runs the same way on a state machine of its own. For fleets of any size;
   * costs two state machines, an S3 bucket and a few state transitions per batch.
   */
  STEP_FUNCTIONS = 'STEP_FUNCTIONS',
}

export * from './snapshot-policy';
export * from './retention';
export * from './snapshot-destination';
export { Orchestration } from './orchestration';

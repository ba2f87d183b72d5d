// Reads what a synthesized template says about the policy's functions and state machines, so tests and
// benchmarks take a function's environment, Timeout, memory and handler, and a machine's definition, from
// the construct itself instead of copying them. Resources are found by Type and by what they contain (a
// function's Handler or Description, a definition's states), never by logical ID, which may change.
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Construct } from 'constructs';

export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, any>;
}

export type Resources = Record<string, TemplateResource>;

/** A `Template` of aws-cdk-lib/assertions, or its JSON. */
export type TemplateSource = Template | { readonly Resources?: Resources };

/** Which function: its `Handler` (`index.snapshotPhases`), its `Description`, or a test of its properties. */
export type FunctionMatch =
  | { readonly handler?: string; readonly description?: string | RegExp }
  | ((properties: Record<string, any>, logicalId: string) => boolean);

/** Which state machine: its `StartAt`, a state it holds, or a test of its definition. */
export type MachineMatch =
  | { readonly startAt?: string; readonly hasState?: string }
  | ((definition: DefinitionJson, logicalId: string) => boolean);

/** A state machine definition as JSON; the interpreter's `Machine` reads it. */
export interface DefinitionJson {
  readonly StartAt: string;
  readonly States: Record<string, any>;
  readonly [key: string]: unknown;
}

export interface EnvironmentOptions {
  /** The value of a `Ref` to a resource of this type, e.g. `{ 'AWS::S3::Bucket': 'plan-bucket' }`. */
  readonly refs?: Record<string, string>;
  /**
   * Throw on any other token instead of writing a placeholder (`${Ref:Id}`, `${GetAtt:Id.Attr}`).
   * @default false
   */
  readonly strict?: boolean;
}

/** What Lambda would give an invocation of this function. */
export interface FunctionSettings {
  readonly logicalId: string;
  /** `index.<export>`. */
  readonly handler: string;
  readonly environment: Record<string, string>;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly architecture: string;
}

export interface SynthesizedMachine {
  readonly logicalId: string;
  /** The definition, each token of its `Fn::Join` replaced by a placeholder (`${token-0}`). */
  readonly definition: DefinitionJson;
  /** Placeholder to the token it stands for. */
  readonly tokens: ReadonlyMap<string, unknown>;
}

/** A fresh App and Stack with a fixed env, `define` adds the constructs; returns the stack's template. */
export function synthesizeTemplate(define: (scope: Construct) => void, region = 'us-east-1', stackName = 'Synthesized'): Template {
  const app = new App();
  const stack = new Stack(app, stackName, { env: { account: '123456789012', region } });
  define(stack);
  return Template.fromStack(stack);
}

export function templateResources(template: TemplateSource): Resources {
  const json = template instanceof Template ? template.toJSON() : template;
  return (json.Resources ?? {}) as Resources;
}

/** The one resource of this type that `test` accepts; throws naming how many matched. */
function findOne(resources: Resources, type: string, test: (r: TemplateResource, id: string) => boolean, what: string): string {
  const ids = Object.entries(resources).filter(([id, r]) => r.Type === type && test(r, id)).map(([id]) => id);
  if (ids.length !== 1) throw new Error(`expected one ${type} with ${what} in the template, found ${ids.length}: ${ids.join(', ')}`);
  return ids[0];
}

function describeMatch(match: object | ((...args: never[]) => boolean)): string {
  return typeof match === 'function' ? 'the given test' : JSON.stringify(match, (_k, v) => (v instanceof RegExp ? String(v) : v));
}

/** The logical ID of the one Lambda function that matches. */
export function findFunction(template: TemplateSource, match: FunctionMatch): string {
  const test = (r: TemplateResource, id: string) => {
    const props = r.Properties ?? {};
    if (typeof match === 'function') return match(props, id);
    const description = String(props.Description ?? '');
    return (match.handler === undefined || props.Handler === match.handler) &&
      (match.description === undefined ||
        (typeof match.description === 'string' ? description === match.description : match.description.test(description)));
  };
  return findOne(templateResources(template), 'AWS::Lambda::Function', test, describeMatch(match));
}

/** A token as a readable placeholder: `${Ref:Bucket}`, `${GetAtt:Machine.Arn}`. */
function placeholderOf(token: unknown): string {
  const t = token as { 'Ref'?: string; 'Fn::GetAtt'?: [string, string] } | null;
  if (t?.Ref) return `\${Ref:${t.Ref}}`;
  if (t?.['Fn::GetAtt']) return `\${GetAtt:${t['Fn::GetAtt'].join('.')}}`;
  return `\${token:${JSON.stringify(token)}}`;
}

function environmentOf(resources: Resources, logicalId: string, options: EnvironmentOptions): Record<string, string> {
  const environment: Record<string, string> = {};
  const variables = resources[logicalId].Properties?.Environment?.Variables ?? {};
  for (const [name, value] of Object.entries<unknown>(variables)) {
    const ref = (value as { Ref?: string } | null)?.Ref;
    const byType = ref ? options.refs?.[resources[ref]?.Type] : undefined;
    if (typeof value === 'string') environment[name] = value;
    else if (byType !== undefined) environment[name] = byType;
    else if (options.strict) throw new Error(`environment variable ${name} of ${logicalId} is a token with no value given: ${JSON.stringify(value)}`);
    else environment[name] = placeholderOf(value);
  }
  return environment;
}

/** The `Environment.Variables` of the function that matches, tokens replaced as `options` says. */
export function functionEnvironment(template: TemplateSource, match: FunctionMatch, options: EnvironmentOptions = {}): Record<string, string> {
  return environmentOf(templateResources(template), findFunction(template, match), options);
}

function settingsOf(resources: Resources, logicalId: string, options: EnvironmentOptions): FunctionSettings {
  const props = resources[logicalId].Properties ?? {};
  return {
    logicalId,
    handler: String(props.Handler),
    environment: environmentOf(resources, logicalId, options),
    // Lambda's defaults where the template leaves them out.
    timeoutSeconds: props.Timeout ?? 3,
    memoryMb: props.MemorySize ?? 128,
    architecture: props.Architectures?.[0] ?? 'x86_64',
  };
}

/** The handler, environment, Timeout, memory and architecture of the function that matches. */
export function functionSettings(template: TemplateSource, match: FunctionMatch, options: EnvironmentOptions = {}): FunctionSettings {
  return settingsOf(templateResources(template), findFunction(template, match), options);
}

/** A Fn::Join of strings and tokens, with each token replaced by a JSON-safe placeholder kept in `tokens`. */
export function joinWithPlaceholders(value: unknown, tokens: Map<string, unknown>): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) throw new Error(`expected a string or Fn::Join, got ${JSON.stringify(value).slice(0, 200)}`);
  return join[1].map((part) => {
    if (typeof part === 'string') return part;
    const placeholder = `\${token-${tokens.size}}`;
    tokens.set(placeholder, part);
    return placeholder;
  }).join(join[0]);
}

function readDefinition(resource: TemplateResource): { definition: DefinitionJson; tokens: Map<string, unknown> } {
  const tokens = new Map<string, unknown>();
  const definition = JSON.parse(joinWithPlaceholders(resource.Properties?.DefinitionString, tokens)) as DefinitionJson;
  return { definition, tokens };
}

/** Every state machine of the template, its definition read. */
export function stateMachines(template: TemplateSource): SynthesizedMachine[] {
  return Object.entries(templateResources(template))
    .filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')
    .map(([logicalId, r]) => ({ logicalId, ...readDefinition(r) }));
}

/** The one state machine that matches (`{ hasState: 'PlanBatches' }`), its definition read. */
export function stateMachine(template: TemplateSource, match: MachineMatch): SynthesizedMachine {
  const test = (m: SynthesizedMachine) => (typeof match === 'function' ? match(m.definition, m.logicalId)
    : (match.startAt === undefined || m.definition.StartAt === match.startAt) &&
      (match.hasState === undefined || hasState(m.definition, match.hasState)));
  const found = stateMachines(template).filter(test);
  if (found.length !== 1) {
    throw new Error(`expected one state machine with ${describeMatch(match)} in the template, found ${found.length}: ` +
      found.map((m) => m.logicalId).join(', '));
  }
  return found[0];
}

/** Whether a state of this name is anywhere in the definition, inside Map and Parallel states too. */
function hasState(definition: DefinitionJson, name: string): boolean {
  return Object.entries(definition.States).some(([n, s]) => n === name ||
    [s.ItemProcessor, s.Iterator, ...(s.Branches ?? [])].some((inner) => inner && hasState(inner, name)));
}

/**
 * The functions a machine's tasks invoke: each placeholder that stands for a function's `Fn::GetAtt Arn`,
 * to that function's settings.
 */
export function machineFunctions(
  template: TemplateSource, machine: SynthesizedMachine, options: EnvironmentOptions = {},
): Map<string, FunctionSettings> {
  const resources = templateResources(template);
  const functions = new Map<string, FunctionSettings>();
  for (const [placeholder, token] of machine.tokens) {
    const getAtt = (token as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
    if (!getAtt || getAtt[1] !== 'Arn' || resources[getAtt[0]]?.Type !== 'AWS::Lambda::Function') continue;
    functions.set(placeholder, settingsOf(resources, getAtt[0], options));
  }
  return functions;
}

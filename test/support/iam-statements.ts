// Reading IAM out of a synthesized template for tests: every statement of every identity policy, and whether a
// statement allows an action (wildcards and NotAction included).
import { Template } from 'aws-cdk-lib/assertions';

/** Every statement of every identity policy in the template: DefaultPolicies, managed and inline. */
export function allStatements(template: Template): Array<{ policy: string; statement: any }> {
  const out: Array<{ policy: string; statement: any }> = [];
  const add = (policy: string, document: any) => {
    const statements = document?.Statement ?? [];
    for (const statement of Array.isArray(statements) ? statements : [statements]) out.push({ policy, statement });
  };
  for (const [id, r] of Object.entries(template.findResources('AWS::IAM::Policy'))) add(id, r.Properties.PolicyDocument);
  for (const [id, r] of Object.entries(template.findResources('AWS::IAM::ManagedPolicy'))) add(id, r.Properties.PolicyDocument);
  for (const [id, r] of Object.entries(template.findResources('AWS::IAM::Role'))) {
    for (const inline of r.Properties?.Policies ?? []) add(`${id}/${inline.PolicyName}`, inline.PolicyDocument);
  }
  return out;
}

export const asList = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v as string]);

/** Whether an IAM action pattern (with `*` and `?` wildcards, case-insensitive) covers `action`. */
export function actionCovers(pattern: string, action: string): boolean {
  const regex = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${regex}$`, 'i').test(action);
}

/** Whether an Allow statement lets its principal call `action` (NotAction counts as allowing it unless it names it). */
export function allows(statement: any, action: string): boolean {
  if (statement.Effect !== 'Allow') return false;
  if (statement.NotAction !== undefined) return !asList(statement.NotAction).some((p) => actionCovers(p, action));
  return asList(statement.Action).some((p) => actionCovers(p, action));
}

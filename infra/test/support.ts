/** What every test shares: the synth, the example spec, and a readable form of CloudFormation values. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Aspects, CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { StackfleetProps } from '../lib/stackfleet';
import { StackfleetStack } from '../lib/stackfleet-stack';

export const INFRA = path.join(__dirname, '..');
export const REPO = path.join(INFRA, '..');
export const ORGANIZATION_ID = 'o-abc123defg';

export function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

export const exampleSpec = (): Record<string, unknown> => readJson(path.join(INFRA, 'default-spec.example.json'));
/** The bootstrap machine's default spec: through OrganizationAccountAccessRole, for new accounts only. */
export const bootstrapSpec = (): Record<string, unknown> => readJson(path.join(REPO, 'examples/bootstrap/new-account-spec.json'));

export interface Synth {
  readonly app: App;
  readonly stack: StackfleetStack;
  readonly template: Template;
}

/**
 * Synthesizes the stack as `cdk synth` would (cdk.json's feature flags) but without building the
 * Rust functions: `aws:cdk:bundling-stacks` empty, which aws-cdk-lib's asset staging honours.
 */
export function synth(props: Partial<StackfleetProps> = {}, options: { nag?: boolean } = {}): Synth {
  const cdkJson = readJson<{ context: Record<string, unknown> }>(path.join(INFRA, 'cdk.json'));
  const app = new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
  if (options.nag) Aspects.of(app).add(new AwsSolutionsChecks());
  const stack = new StackfleetStack(app, 'Stackfleet', {
    fleet: { organizationId: ORGANIZATION_ID, defaultSpec: exampleSpec(), ...props },
  });
  return { app, stack, template: Template.fromStack(stack) };
}

/** The logical ID CloudFormation knows a construct's main resource by. */
export function logicalId(construct: IConstruct): string {
  return Stack.of(construct).resolve((construct.node.defaultChild as CfnElement).logicalId) as string;
}

/**
 * A CloudFormation value as text: `{Ref: X}` is `<X>`, `{Fn::GetAtt: [X, Arn]}` is `<X.Arn>`,
 * a `Fn::Join` is joined, `{Ref: AWS::Partition}` is `<AWS::Partition>`.
 */
export function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const object = value as Record<string, unknown>;
  if ('Ref' in object) return `<${object.Ref as string}>`;
  if ('Fn::GetAtt' in object) return `<${(object['Fn::GetAtt'] as string[]).join('.')}>`;
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(separator);
  }
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}

export interface Statement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | string[];
  readonly Resource?: unknown;
  readonly NotResource?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
  readonly Principal?: unknown;
}

export const asList = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** Identity-policy statements by the logical ID of the role they are attached to. */
export function statementsByRole(template: Template): Map<string, Statement[]> {
  const byRole = new Map<string, Statement[]>();
  const add = (role: string, statements: Statement[]) => byRole.set(role, [...(byRole.get(role) ?? []), ...statements]);
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    for (const role of policy.Properties.Roles as { Ref: string }[]) {
      add(role.Ref, policy.Properties.PolicyDocument.Statement);
    }
  }
  for (const [id, role] of Object.entries(template.findResources('AWS::IAM::Role'))) {
    for (const inline of role.Properties.Policies ?? []) add(id, inline.PolicyDocument.Statement);
  }
  return byRole;
}

/** Every statement of every policy in the template: identity, trust and resource policies. */
export function allStatements(template: Template): { where: string; statement: Statement }[] {
  const found: { where: string; statement: Statement }[] = [];
  const visit = (where: string, node: unknown): void => {
    if (Array.isArray(node)) node.forEach((child) => visit(where, child));
    else if (node && typeof node === 'object') {
      const object = node as Record<string, unknown>;
      if (Array.isArray(object.Statement)) {
        for (const statement of object.Statement as Statement[]) found.push({ where, statement });
      }
      Object.values(object).forEach((child) => visit(where, child));
    }
  };
  for (const [id, resource] of Object.entries(template.toJSON().Resources as Record<string, unknown>)) {
    visit(id, resource);
  }
  return found;
}

/** Rendered resources of the statements granting `action`. */
export function resourcesOf(statements: Statement[], action: string): string[] {
  return statements
    .filter((s) => s.Effect === 'Allow' && asList(s.Action).includes(action))
    .flatMap((s) => asList(s.Resource).map(render));
}

export const actionsOf = (statements: Statement[]): string[] =>
  statements.filter((s) => s.Effect === 'Allow').flatMap((s) => asList(s.Action));

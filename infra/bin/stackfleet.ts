#!/usr/bin/env node
/**
 * The CDK app. Everything comes from context (`-c key=value` or cdk.json), and the stack is
 * environment-agnostic (no lookups), so `cdk synth` runs offline without credentials.
 *
 *   organizationId      required, e.g. o-abc123defg
 *   defaultSpecFile     JSON rollout document, the default spec (default: default-spec.example.json);
 *                       synth checks it against ../schema/rollout.schema.json
 *   alarmEmail          subscribed to the alarm topic
 *   operatorPrincipals  comma-separated account IDs or ARNs; creates the operator role
 *   approverPrincipals  comma-separated account IDs or ARNs; creates the approver role (plan-first
 *                       runs' `stackfleet approve`; without it the operator role approves)
 *   templateBucketNames comma-separated buckets an input's template.url may name (with
 *                       `template` in inputFields), besides the default spec's
 *   inputFields         comma-separated fields an execution input may change: top-level fields of
 *                       the rollout document, or parameters.NAME (default:
 *                       targets,concurrency,failureTolerance,waves); * for every field (the
 *                       targets unbounded: synth warns), none for no change at all
 *   accept              any (default), or new-account: only new-account events, nothing else
 *   allowAdminDeployRole=true   lets a machine that accepts any input deploy through
 *                       OrganizationAccountAccessRole or AWSControlTowerExecution
 *   secretPrefix        the names of SSM parameters and secrets the worker may resolve start with
 *                       it (default stackfleet/: /stackfleet/... and stackfleet/...)
 *   secretKmsKeyArns    comma-separated customer managed keys of those, for kms:Decrypt
 *   stackName, stateMachineName, workerRoleName   to run a second stackfleet beside the first
 *   runRetentionDays    days run records are kept (default 90)
 *   workerConcurrency   the worker's reserved concurrency: the most targets an execution may
 *                       deploy at once, larger ones are refused at Discover (default: the default
 *                       spec's concurrency or 100, whichever is larger)
 *   listerConcurrency, reducerConcurrency   theirs (default 10 each)
 *   reserveConcurrency=false   reserve none (the account's quota must leave 100 unreserved)
 *   skipBundling=true   synth without building the Rust functions (see below)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Annotations, App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { StackfleetProps } from '../lib/stackfleet';
import { StackfleetStack } from '../lib/stackfleet-stack';
import { NO_FIELD } from '../lib/trust';

const app = new App();
const context = (key: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  return value === undefined || value === '' ? undefined : String(value);
};
const list = (key: string): string[] | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  if (Array.isArray(value)) return value.map(String);
  const items = context(key)?.split(',').map((item) => item.trim()).filter(Boolean);
  return items?.length ? items : undefined;
};

// The CLI overwrites `aws:cdk:bundling-stacks` for synth, diff and deploy (it refuses `-c aws:...`
// outright), so the app takes its own switch and sets that key itself, before any stack exists.
// With it, each RustFunction's asset is the unbuilt source directory: never deploy such a synth.
const skipBundling = context('skipBundling') === 'true';
if (skipBundling) app.node.setContext('aws:cdk:bundling-stacks', []);

const organizationId = context('organizationId');
if (!organizationId) {
  throw new Error('organizationId is required: cdk deploy -c organizationId=o-abc123defg (aws organizations describe-organization)');
}
const specFile = path.resolve(context('defaultSpecFile') ?? path.join(__dirname, '..', 'default-spec.example.json'));
let defaultSpec: Record<string, unknown>;
try {
  // Its shape is checked by the construct, against the schema: a cast is all this needs.
  defaultSpec = JSON.parse(fs.readFileSync(specFile, 'utf8')) as Record<string, unknown>;
} catch (error) {
  throw new Error(`defaultSpecFile ${specFile}: ${(error as Error).message}`);
}
// `none`: an input may change nothing (an empty -c value means "not given", the default).
const inputFields = (): string[] | undefined => {
  const fields = list('inputFields');
  return fields?.length === 1 && fields[0] === NO_FIELD ? [] : fields;
};
const runRetentionDays = context('runRetentionDays');
const number = (key: string): number | undefined => {
  const value = context(key);
  return value === undefined ? undefined : Number(value);
};
const reserveConcurrency = context('reserveConcurrency');
if (reserveConcurrency !== undefined && !['true', 'false'].includes(reserveConcurrency)) {
  throw new Error(`reserveConcurrency ${JSON.stringify(reserveConcurrency)} must be true or false`);
}
const concurrencyKeys = ['workerConcurrency', 'listerConcurrency', 'reducerConcurrency'].filter((key) => context(key) !== undefined);
if (reserveConcurrency === 'false' && concurrencyKeys.length) {
  throw new Error(`reserveConcurrency=false reserves nothing: drop ${concurrencyKeys.join(', ')}, or reserveConcurrency`);
}
const allowAdminDeployRole = context('allowAdminDeployRole');
if (allowAdminDeployRole !== undefined && !['true', 'false'].includes(allowAdminDeployRole)) {
  throw new Error(`allowAdminDeployRole ${JSON.stringify(allowAdminDeployRole)} must be true or false`);
}

const stack = new StackfleetStack(app, context('stackName') ?? 'Stackfleet', {
  description: 'stackfleet: rolls one CloudFormation stack out to every account of an AWS Organization',
  fleet: {
    organizationId,
    defaultSpec,
    alarmEmail: context('alarmEmail'),
    operatorPrincipals: list('operatorPrincipals'),
    approverPrincipals: list('approverPrincipals'),
    templateBucketNames: list('templateBucketNames'),
    inputFields: inputFields(),
    accept: context('accept') as StackfleetProps['accept'],
    allowAdminDeployRole: allowAdminDeployRole === 'true',
    secretPrefix: context('secretPrefix'),
    secretKmsKeyArns: list('secretKmsKeyArns'),
    stateMachineName: context('stateMachineName'),
    workerRoleName: context('workerRoleName'),
    runRetentionDays: runRetentionDays === undefined ? undefined : Number(runRetentionDays),
    reservedConcurrency:
      reserveConcurrency === 'false'
        ? false
        : { worker: number('workerConcurrency'), lister: number('listerConcurrency'), reducer: number('reducerConcurrency') },
  },
});
if (skipBundling) {
  Annotations.of(stack).addWarningV2(
    'stackfleet:bundling-skipped',
    'skipBundling=true: the Lambda assets are the unbuilt source tree. Synth and diff only; deploy without it.',
  );
}

Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));

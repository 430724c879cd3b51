/**
 * A CloudFormation template as CloudFormation would see it for given parameter values: the
 * intrinsic functions the examples use resolved, conditions decided, AWS::NoValue dropped. Just
 * enough to hand the policies a stack would create to an IAM evaluator; anything else throws.
 */
import { readCloudFormationYaml } from './cfn-yaml';

export interface Deployment {
  /** Parameter values; a parameter left out takes its Default, and one without a Default throws. */
  readonly parameters?: Record<string, string>;
  readonly accountId: string;
  readonly region?: string;
  /** What `Ref X` and `X.Attr` mean for the template's own resources, e.g. `{Bucket: {Ref: 'b', Arn: '...'}}`. */
  readonly resources?: Record<string, Record<string, string>>;
}

type Node = unknown;
const NO_VALUE = Symbol('AWS::NoValue');

export class ResolvedTemplate {
  readonly raw: Record<string, any>;
  private readonly values: Record<string, string | string[]>;
  private readonly conditions = new Map<string, boolean>();

  constructor(file: string, private readonly deployment: Deployment) {
    this.raw = readCloudFormationYaml(file);
    const region = deployment.region ?? 'us-east-1';
    this.values = {
      'AWS::Partition': 'aws',
      'AWS::AccountId': deployment.accountId,
      'AWS::Region': region,
      'AWS::URLSuffix': 'amazonaws.com',
    };
    for (const [name, declared] of Object.entries<any>(this.raw.Parameters ?? {})) {
      const value = deployment.parameters?.[name] ?? declared.Default;
      if (value === undefined) throw new Error(`parameter ${name} has no Default: give it`);
      if (declared.AllowedPattern && !new RegExp(`^(?:${declared.AllowedPattern})$`).test(value)) {
        throw new Error(`parameter ${name}: ${JSON.stringify(value)} fails its AllowedPattern`);
      }
      this.values[name] = declared.Type === 'CommaDelimitedList' ? String(value).split(',') : String(value);
    }
    for (const name of Object.keys(deployment.parameters ?? {})) {
      if (!(name in (this.raw.Parameters ?? {}))) throw new Error(`the template has no parameter ${name}`);
    }
  }

  condition(name: string): boolean {
    let value = this.conditions.get(name);
    if (value === undefined) {
      const definition = this.raw.Conditions?.[name];
      if (definition === undefined) throw new Error(`no condition ${name}`);
      value = this.resolve(definition) as boolean;
      this.conditions.set(name, value);
    }
    return value;
  }

  /** A resource's Properties, resolved; undefined when its Condition is false. */
  properties(logicalId: string): Record<string, any> | undefined {
    const resource = this.raw.Resources[logicalId];
    if (!resource) throw new Error(`no resource ${logicalId}`);
    if (resource.Condition && !this.condition(resource.Condition)) return undefined;
    return this.resolve(resource.Properties) as Record<string, any>;
  }

  resolve(node: Node): unknown {
    const value = this.walk(node);
    return value === NO_VALUE ? undefined : value;
  }

  private walk(node: Node): unknown {
    if (Array.isArray(node)) return node.map((item) => this.walk(item)).filter((item) => item !== NO_VALUE);
    if (!node || typeof node !== 'object') return node;
    const object = node as Record<string, Node>;
    const keys = Object.keys(object);
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::') || keys[0] === 'Condition')) {
      return this.call(keys[0], object[keys[0]]);
    }
    const out: Record<string, unknown> = {};
    for (const key of keys) {
      const value = this.walk(object[key]);
      if (value !== NO_VALUE) out[key] = value;
    }
    return out;
  }

  private call(name: string, argument: Node): unknown {
    const args = () => this.walk(argument) as any[];
    switch (name) {
      case 'Ref':
        return this.reference(argument as string);
      case 'Condition':
        return this.condition(argument as string);
      case 'Fn::If': {
        const [condition, then, otherwise] = argument as [string, Node, Node];
        return this.walk(this.condition(condition) ? then : otherwise);
      }
      case 'Fn::Equals': {
        const [left, right] = args();
        return left === right;
      }
      case 'Fn::Not':
        return !args()[0];
      case 'Fn::And':
        return args().every(Boolean);
      case 'Fn::Or':
        return args().some(Boolean);
      case 'Fn::Join': {
        const [delimiter, items] = args() as [string, string[]];
        return items.join(delimiter);
      }
      case 'Fn::Split': {
        const [delimiter, text] = args() as [string, string];
        return text.split(delimiter);
      }
      case 'Fn::Select': {
        const [index, items] = args() as [string, unknown[]];
        return items[Number(index)];
      }
      case 'Fn::GetAtt': {
        const [resource, attribute] = argument as [string, string];
        return this.attribute(resource, attribute);
      }
      case 'Fn::Sub': {
        const [text, variables] = Array.isArray(argument) ? (argument as [string, Record<string, Node>]) : [argument as string, {}];
        const local = Object.fromEntries(Object.entries(variables).map(([key, value]) => [key, this.walk(value)]));
        return text.replace(/\$\{([^}!]+)\}/g, (_, reference: string) => {
          if (reference in local) return String(local[reference]);
          const [resource, attribute] = reference.split('.');
          return String(attribute && !reference.startsWith('AWS::') ? this.attribute(resource, attribute) : this.reference(reference));
        });
      }
      default:
        throw new Error(`${name} is not resolved here`);
    }
  }

  private reference(name: string): unknown {
    if (name === 'AWS::NoValue') return NO_VALUE;
    if (name in this.values) return this.values[name];
    return this.attribute(name, 'Ref');
  }

  private attribute(resource: string, attribute: string): string {
    const value = this.deployment.resources?.[resource]?.[attribute];
    if (value === undefined) throw new Error(`${resource}.${attribute}: say what it is in Deployment.resources`);
    return value;
  }
}

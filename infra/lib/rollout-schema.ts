/**
 * The rollout document's JSON Schema, generated from the Rust types (`stackfleet schema`) and
 * committed at schema/rollout.schema.json: the one contract the CDK app checks a document
 * against, instead of a TypeScript copy that would drift. What this adds to ajv is the wording:
 * one problem per field, named by its path, rather than every failed branch of every `anyOf`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020, { ErrorObject, ValidateFunction } from 'ajv/dist/2020';

export const ROLLOUT_SCHEMA_FILE = path.join(__dirname, '..', '..', 'schema', 'rollout.schema.json');

/** One thing wrong with a document: where (`targets.regions[0]`), and what. */
export interface SchemaProblem {
  readonly path: string;
  readonly message: string;
}

interface Finding extends SchemaProblem {
  /** JSON Pointer of the value, to tell a branch's own mismatch from one deeper down. */
  readonly pointer: string;
  /** The value is not of the kind the schema wants here at all (type, const, enum). */
  readonly wrongKind: boolean;
  /** An object lacks a property the schema requires. */
  readonly missing: boolean;
  /** The message already says, from the schema's description, what belongs here. */
  readonly described?: boolean;
}

type Schema = Record<string, unknown>;

/** schemars writes Rust's integer types as formats; their bounds are already in minimum/maximum. */
const INTEGER_FORMATS = ['int8', 'int16', 'int32', 'int64', 'uint', 'uint8', 'uint16', 'uint32', 'uint64'];
const ROOT_KEY = 'rollout';

export class RolloutSchema {
  private static readonly loaded = new Map<string, RolloutSchema>();

  /** The schema in `file`, compiled once per file. */
  static load(file: string = ROLLOUT_SCHEMA_FILE): RolloutSchema {
    let schema = RolloutSchema.loaded.get(file);
    if (!schema) {
      const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      if (!text.trim()) {
        throw new Error(`${file} is missing or empty: generate it with \`cargo run -q -- schema > schema/rollout.schema.json\``);
      }
      schema = new RolloutSchema(JSON.parse(text) as Schema);
      RolloutSchema.loaded.set(file, schema);
    }
    return schema;
  }

  private readonly ajv: Ajv2020;
  /** Where each object of the schema sits in it, to validate one branch of an `anyOf` on its own. */
  private readonly pointers = new Map<unknown, string>();
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly root: Schema) {
    this.ajv = new Ajv2020({
      allErrors: true,
      verbose: true,
      strict: true,
      // Option<T> is `"type": ["integer", "null"]` in schemars' output.
      allowUnionTypes: true,
      formats: Object.fromEntries(INTEGER_FORMATS.map((format) => [format, true])),
    });
    this.ajv.addSchema(root, ROOT_KEY);
    const visit = (node: unknown, pointer: string): void => {
      if (!node || typeof node !== 'object') return;
      this.pointers.set(node, pointer);
      for (const [key, child] of Object.entries(node)) {
        visit(child, `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`);
      }
    };
    visit(root, '');
  }

  /** The document's top-level fields, as the schema names them. */
  topLevelFields(): string[] {
    return Object.keys((this.root.properties ?? {}) as Schema);
  }

  /** Everything wrong with `document`; empty when it is a valid rollout document. */
  problems(document: unknown): SchemaProblem[] {
    return this.check(document, '', '').map(({ path: where, message }) => ({ path: where, message }));
  }

  private validator(schemaPointer: string): ValidateFunction {
    let validate = this.validators.get(schemaPointer);
    if (!validate) {
      validate = schemaPointer
        ? this.ajv.compile({ $ref: `${ROOT_KEY}#${schemaPointer}` })
        : this.ajv.getSchema(ROOT_KEY)!;
      this.validators.set(schemaPointer, validate);
    }
    return validate;
  }

  /** `value`, found at `dataPointer` of the document, against the schema at `schemaPointer`. */
  private check(value: unknown, dataPointer: string, schemaPointer: string): Finding[] {
    const validate = this.validator(schemaPointer);
    if (validate(value)) return [];
    const errors = validate.errors ?? [];
    const findings: Finding[] = [];
    // ajv reports the errors of an anyOf's branches before the anyOf's own error, all at or
    // under its path: walking back, the anyOf claims them, and each branch is judged on its own.
    for (let index = errors.length - 1; index >= 0; index--) {
      const error = errors[index];
      if (error.keyword === 'anyOf' || error.keyword === 'oneOf') {
        while (index > 0 && isAtOrUnder(errors[index - 1].instancePath, error.instancePath)) index--;
        findings.unshift(...this.alternatives(error, dataPointer + error.instancePath));
      } else {
        findings.unshift(this.finding(error, dataPointer + error.instancePath));
      }
    }
    return findings;
  }

  /**
   * None (or, for oneOf, more than one) of the alternatives fit: blame the branch the value was
   * meant for, the one it fits best, or else say what the alternatives are.
   */
  private alternatives(error: ErrorObject, pointer: string): Finding[] {
    const branches = error.schema as unknown[];
    const branchesPointer = this.pointers.get(branches);
    const data: unknown = error.data;
    const judged = branches
      .map((branch, index) => ({
        schema: this.resolve(branch),
        findings: branchesPointer === undefined ? [] : this.check(data, pointer, `${branchesPointer}/${index}`),
      }))
      // `null` is how schemars says a field may be left out: never the branch anybody meant.
      .filter(({ schema }) => schema.type !== 'null');
    const parent = (error.parentSchema ?? {}) as Schema;
    // A branch without a description of its own (FailureTolerance's string) has its parent's.
    const described = (findings: Finding[]): Finding[] =>
      findings.map((f) =>
        f.described || f.pointer !== pointer || typeof parent.description !== 'string'
          ? f
          : { ...f, message: `${f.message} (${sentence(parent.description)})`, described: true },
      );
    if (judged.length === 1) return described(judged[0].findings);

    // A branch of another kind (a string where the value is an object, another const) was not meant;
    // of the others, the closest lacks the fewest required properties, then has the fewest problems.
    const meant = judged.filter(
      ({ findings }) => findings.length > 0 && !findings.some((f) => f.wrongKind && f.pointer === pointer),
    );
    const score = (findings: Finding[]) =>
      findings.filter((f) => f.missing && parentOf(f.pointer) === pointer).length * 1000 + findings.length;
    const best = Math.min(...meant.map(({ findings }) => score(findings)));
    const closest = meant.filter(({ findings }) => score(findings) === best);
    if (closest.length === 1) return described(closest[0].findings);

    const options = judged.map(({ schema }) => schema);
    const summary = (message: string, wrongKind = meant.length === 0): Finding[] => [
      { pointer, path: pathOf(pointer), message, wrongKind, missing: false, described: true },
    ];
    const keys = options.map(singleRequiredKey);
    if (isObject(data) && keys.every((key): key is string => key !== undefined)) {
      const unknown = Object.keys(data).filter((key) => !keys.includes(key));
      return summary(`must have exactly one of ${keys.join(', ')}${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`, false);
    }
    if (options.every((option) => 'const' in option)) {
      return summary(`${show(data)} must be ${options.map((option) => show(option.const)).join(' or ')}`);
    }
    if (typeof parent.description === 'string') return summary(`${show(data)} is not valid: ${sentence(parent.description)}`);
    return summary(`${show(data)} must be ${options.map(describe).join(', or ')}`);
  }

  private finding(error: ErrorObject, pointer: string): Finding {
    const parent = (error.parentSchema ?? {}) as Schema;
    const about = typeof parent.description === 'string' ? ` (${sentence(parent.description)})` : '';
    const at = (where: string, message: string, kind: Partial<Finding> = {}): Finding => ({
      pointer: where,
      path: pathOf(where),
      message,
      wrongKind: false,
      missing: false,
      described: about !== '',
      ...kind,
    });
    switch (error.keyword) {
      case 'additionalProperties':
      case 'unevaluatedProperties': {
        const field = String(error.params.additionalProperty ?? error.params.unevaluatedProperty);
        const known = Object.keys((parent.properties ?? {}) as Schema);
        const near = known.find((name) => closeTo(field, name));
        const hint = near ? `did you mean ${near}?` : `known here: ${known.join(', ')}`;
        return at(`${pointer}/${escape(field)}`, `unknown field (${hint})`);
      }
      case 'required':
        return at(`${pointer}/${escape(String(error.params.missingProperty))}`, 'is missing', { missing: true });
      case 'type':
        return at(pointer, `${show(error.data)} must be ${String(error.params.type).split(',').join(' or ')}${about}`, {
          wrongKind: true,
        });
      case 'const':
      case 'enum':
        return at(pointer, `${show(error.data)} must be ${asList(error.schema).map(show).join(' or ')}${about}`, {
          wrongKind: true,
        });
      default:
        return at(pointer, `${show(error.data)} ${error.message ?? 'is not valid'}${about}`);
    }
  }

  /** A schema with its `$ref`s followed, within this document. */
  private resolve(schema: unknown): Schema {
    let node = (schema ?? {}) as Schema;
    for (let hops = 0; typeof node.$ref === 'string' && node.$ref.startsWith('#') && hops < 16; hops++) {
      const { $ref, ...rest } = node;
      let target: unknown = this.root;
      for (const part of ($ref as string).slice(2).split('/').filter(Boolean)) {
        target = (target as Schema)[unescape(decodeURIComponent(part))];
      }
      node = { ...(target as Schema), ...rest };
    }
    return node;
  }
}

function describe(schema: Schema): string {
  if ('const' in schema) return show(schema.const);
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.map(show).join(', ')}`;
  if (schema.description) return sentence(String(schema.description));
  return `a${/^[aeiou]/.test(String(schema.type)) ? 'n' : ''} ${asList(schema.type).join(' or ')}`;
}

function singleRequiredKey(schema: Schema): string | undefined {
  const required = schema.required;
  return Array.isArray(required) && required.length === 1 ? String(required[0]) : undefined;
}

/** `/targets/regions/0` as people write it: `targets.regions[0]`. */
export function pathOf(pointer: string): string {
  if (!pointer) return '(document)';
  return pointer
    .split('/')
    .slice(1)
    .map(unescape)
    .reduce((written, key) => {
      if (/^\d+$/.test(key)) return `${written}[${key}]`;
      if (/^[A-Za-z_$][\w$]*$/.test(key)) return written ? `${written}.${key}` : key;
      return `${written}[${JSON.stringify(key)}]`;
    }, '');
}

/** A schema description inside a message: one line, no closing full stop. */
const sentence = (description: string) => description.replace(/\s*\n\s*/g, ' ').replace(/\.$/, '');
const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');
const unescape = (key: string) => key.replace(/~1/g, '/').replace(/~0/g, '~');
const isAtOrUnder = (pointer: string, parent: string) => pointer === parent || pointer.startsWith(`${parent}/`);
const parentOf = (pointer: string) => pointer.slice(0, pointer.lastIndexOf('/'));
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** A misspelling: the same but for case, or at most two edits apart. */
function closeTo(written: string, known: string): boolean {
  if (written.toLowerCase() === known.toLowerCase()) return true;
  const previous = Array.from({ length: known.length + 1 }, (_, index) => index);
  for (let i = 1; i <= written.length; i++) {
    let diagonal = previous[0];
    previous[0] = i;
    for (let j = 1; j <= known.length; j++) {
      const above = previous[j];
      previous[j] = Math.min(above + 1, previous[j - 1] + 1, diagonal + (written[i - 1] === known[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return previous[known.length] <= 2;
}

/** CloudFormation YAML as plain JSON: the short-form tags (!Sub, !If, ...) become their long form. */
import * as fs from 'node:fs';
import YAML, { Tags } from 'yaml';

const FUNCTIONS = ['Base64', 'Cidr', 'Equals', 'FindInMap', 'GetAtt', 'GetAZs', 'If', 'ImportValue', 'Join', 'Not', 'And', 'Or', 'Select', 'Split', 'Sub'];

const tags: Tags = [
  { tag: '!Ref', resolve: (value: string) => ({ Ref: value }) },
  { tag: '!Condition', resolve: (value: string) => ({ Condition: value }) },
  ...FUNCTIONS.flatMap((name) => {
    const key = `Fn::${name}`;
    return [
      { tag: `!${name}`, resolve: (value: string) => ({ [key]: name === 'GetAtt' ? value.split('.') : value }) },
      ...(['seq', 'map'] as const).map((collection) => ({
        tag: `!${name}`,
        collection,
        resolve: (node: YAML.YAMLMap | YAML.YAMLSeq) => ({ [key]: node.toJSON() }),
      })),
    ];
  }),
];

// `any`: a template's shape is whatever its author wrote; the tests say what they expect of it.
export function readCloudFormationYaml(file: string): Record<string, any> {
  return YAML.parse(fs.readFileSync(file, 'utf8'), { customTags: tags });
}

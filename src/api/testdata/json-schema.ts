/**
 * Just enough JSON Schema (the subset openapi.ts writes) to check the API's answers against
 * its own document, strictly: a property the schema does not name is a problem too, unless
 * the schema says `additionalProperties`.
 */
type Schema = Record<string, any>;

/** `$ref` resolved and `allOf` merged into one object schema, as the checks below need it. */
export function flatten(schema: Schema, doc: Schema): Schema {
  if (typeof schema.$ref === 'string') {
    const name = /^#\/components\/schemas\/(\w+)$/.exec(schema.$ref)?.[1];
    const target = name === undefined ? undefined : doc.components?.schemas?.[name];
    if (!target) throw new Error(`Unresolved $ref ${schema.$ref}`);
    return flatten(target, doc);
  }
  if (Array.isArray(schema.allOf)) {
    const parts = schema.allOf.map((s: Schema) => flatten(s, doc));
    return {
      type: 'object',
      properties: Object.assign({}, ...parts.map((p: Schema) => p.properties ?? {})),
      required: parts.flatMap((p: Schema) => p.required ?? []),
    };
  }
  return schema;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Everything about `value` that `schema` does not allow, as "$.path: what". */
export function schemaProblems(value: unknown, schema: Schema, doc: Schema, at = '$'): string[] {
  const s = flatten(schema, doc);
  if (Array.isArray(s.oneOf)) {
    const matching = s.oneOf.filter((alt: Schema) => schemaProblems(value, alt, doc, at).length === 0).length;
    return matching === 1 ? [] : [`${at}: matches ${matching} of the oneOf alternatives, not exactly one`];
  }
  if (Array.isArray(s.enum)) return s.enum.includes(value) ? [] : [`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(s.enum)}`];
  const actual = typeOf(value);
  if (s.type !== undefined) {
    const allowed: string[] = Array.isArray(s.type) ? s.type : [s.type];
    if (!allowed.includes(actual) && !(actual === 'integer' && allowed.includes('number'))) return [`${at}: ${actual}, not ${allowed.join(' or ')}`];
  }
  const problems: string[] = [];
  if (actual === 'string' && typeof s.pattern === 'string' && !new RegExp(s.pattern).test(value as string)) problems.push(`${at}: does not match ${s.pattern}`);
  if (actual === 'array' && s.items) (value as unknown[]).forEach((item, i) => problems.push(...schemaProblems(item, s.items, doc, `${at}[${i}]`)));
  if (actual === 'object') {
    const obj = value as Record<string, unknown>;
    const properties: Record<string, Schema> = s.properties ?? {};
    for (const key of s.required ?? []) if (!(key in obj)) problems.push(`${at}: ${key} is missing`);
    for (const [key, v] of Object.entries(obj)) {
      if (properties[key]) problems.push(...schemaProblems(v, properties[key], doc, `${at}.${key}`));
      else if (s.additionalProperties && typeof s.additionalProperties === 'object') problems.push(...schemaProblems(v, s.additionalProperties, doc, `${at}.${key}`));
      else if (s.additionalProperties !== true) problems.push(`${at}: ${key} is not in the schema`);
    }
  }
  return problems;
}

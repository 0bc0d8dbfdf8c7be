/** What a per-node template may use: facts about the node, none of them secret. */
export const TEMPLATE_VARIABLES = ['hostname', 'fqdn', 'mac', 'address', 'profile', 'domain', 'server'] as const;
export type TemplateValues = Record<(typeof TEMPLATE_VARIABLES)[number], string>;

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

export function templateNames(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}

/**
 * `{{ name }}` replaced by the node's value; nothing else is syntax, so a file full of `$`,
 * backticks or `%` (shell scripts, crontabs) needs no escaping. An unknown name is an error
 * rather than an empty string, which would silently write a broken file onto every node.
 */
export function renderTemplate(text: string, values: TemplateValues): string {
  return text.replace(PLACEHOLDER, (_, name: string) => {
    if (!(TEMPLATE_VARIABLES as readonly string[]).includes(name)) {
      throw new Error(`unknown template variable {{${name}}} (known: ${TEMPLATE_VARIABLES.join(', ')})`);
    }
    return values[name as keyof TemplateValues];
  });
}

/**
 * HTML that is escaped by default. Payloads are hostile (a lead named `<script>…`), so the only
 * way to put text into a page is through {@link html}, which escapes every interpolated value
 * unless it is already {@link SafeHtml} built the same way.
 */
export class SafeHtml {
  constructor(readonly value: string) {}

  toString(): string {
    return this.value;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for element content and for double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => ENTITIES[character]);
}

/** What may be interpolated: text (escaped), numbers, SafeHtml (kept), lists of these; nothing for null/false. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function renderValue(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map((item: HtmlValue) => renderValue(item)).join('');
  return escapeHtml(String(value));
}

/** Tagged template: `html\`<td>${name}</td>\`` escapes `name`. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0];
  for (let index = 0; index < values.length; index += 1) out += renderValue(values[index]) + strings[index + 1];
  return new SafeHtml(out);
}

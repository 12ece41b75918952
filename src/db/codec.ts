/**
 * One place for what the drivers return differently. Booleans are stored as 0/1 integers and JSON as
 * text on both dialects, so the schema stays portable; these helpers convert at the repository boundary.
 */

export function toBool(value: unknown): boolean {
  return value === true || value === 1 || value === '1' || value === 't';
}

export function fromBool(value: boolean): number {
  return value ? 1 : 0;
}

export function parseJsonObject(text: string | null | undefined): Record<string, unknown> {
  if (!text) return {};
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function toJson(value: unknown): string {
  return JSON.stringify(value ?? {});
}

/**
 * Reports travel (S3, e-mail, tickets), so a credential must never reach one. Callers already keep
 * URLs out of options and errors; this is the last line of defence for driver messages that echo a
 * connection string.
 */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi;
const PASSWORD_PARAMETER = /\b(password|passwd|pwd)=([^\s&;]+)/gi;

export function maskCredentials(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1***@').replace(PASSWORD_PARAMETER, '$1=***');
}

/** Masks every string inside a JSON-like value, leaving its shape alone. */
export function maskCredentialsDeep(value: unknown): unknown {
  if (typeof value === 'string') return maskCredentials(value);
  if (Array.isArray(value)) return value.map(maskCredentialsDeep);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskCredentialsDeep(v)]));
  }
  return value;
}

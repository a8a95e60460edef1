/** A connection URL fit for logs and error messages: the password is replaced, the rest kept. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    // Not a URL we can parse: show nothing that might be a secret.
    return '<unparseable database url>';
  }
}

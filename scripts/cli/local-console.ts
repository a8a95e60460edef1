/**
 * Imported first by the CLIs, before any handler module creates its Powertools logger and metrics:
 * on a terminal the Lambda's JSON log lines and CloudWatch metric blobs bury the progress bar and
 * the one line that says what failed, so local runs log nothing and emit no metrics unless asked
 * (`--verbose`, or the Powertools variables set by hand). The run's report holds every error.
 */
if (!process.argv.includes('--verbose')) {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
}

/**
 * A database URL typed as a flag carries its password into this process's command line, which
 * every user of the machine reads with `ps`. The process's title replaces it at once (on Linux that
 * rewrites /proc/<pid>/cmdline), and a warning says how to keep it out of the shell's and npm's
 * command lines too: the environment variables.
 */
const PASSWORD_IN_URL = /(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]+@/g;
if (process.argv.some((arg) => arg.replace(PASSWORD_IN_URL, '') !== arg)) {
  process.title = process.argv.map((arg) => arg.replace(PASSWORD_IN_URL, '$1***@')).join(' ');
  process.stderr.write(
    'warning: a database password was given on the command line, where other users of this machine can read it (ps); set SOURCE_DATABASE_URL and DATABASE_URL instead.\n',
  );
}

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

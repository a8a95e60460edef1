/**
 * Imported first by the CLIs, before any handler module creates its Powertools logger and metrics:
 * on a terminal the Lambda's JSON log lines and CloudWatch metric blobs bury the progress bar, so
 * local runs log warnings and errors only and emit no metrics unless asked (`--verbose`,
 * or the Powertools variables set by hand).
 */
if (!process.argv.includes('--verbose')) {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
}

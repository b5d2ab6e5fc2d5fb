// Prints the Temporal connection settings as shell exports, for the runbooks: they are read as every
// process reads them (the environment over BOOT_IMAGE_SETTINGS over a temporal.toml profile) and
// checked by the same schema, then handed to the CLIs the runbooks run. Invalid settings: exit 2.
import { readSettings, SettingsError } from './load';
import { temporalConnectionOptions } from './temporalConnection';

/** Resolved already: the CLIs get the values, not the file to resolve them from again. */
const resolvedHere = new Set(['TEMPORAL_CONFIG_FILE', 'TEMPORAL_PROFILE']);

const shellQuote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;

try {
  const { temporal } = readSettings(['temporal']);
  // Checked as workers and imagectl check them (a certificate without its key, unreadable files). Any TLS
  // file or an API key implies TLS: an explicit "false" would turn the CLI's own implication off.
  const tls = Boolean(temporalConnectionOptions(temporal).tls);
  for (const [name, value] of Object.entries({ ...temporal, TEMPORAL_TLS: tls || undefined })) {
    if (value !== undefined && !resolvedHere.has(name)) process.stdout.write(`export ${name}=${shellQuote(String(value))}\n`);
  }
} catch (error) {
  if (!(error instanceof SettingsError)) throw error;
  console.error(error.message);
  process.exit(2);
}

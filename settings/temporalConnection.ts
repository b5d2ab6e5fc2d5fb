// How workers and imagectl reach Temporal: address, namespace, TLS (server CA, client certificate,
// server name) and API key, as the `temporal` CLI takes them from the same variables.
import type { TLSConfig } from '@temporalio/client';
import type { GroupSettings } from './schema';
import { readPemSetting } from './files';
import { SettingsError } from './load';

export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
}

export function temporalConnectionOptions(settings: GroupSettings<'temporal'>): TemporalConnectionOptions {
  const { TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key, TEMPORAL_TLS_CA: ca, TEMPORAL_TLS_SERVER_NAME: serverName, TEMPORAL_API_KEY: apiKey } = settings;
  if (Boolean(cert) !== Boolean(key)) {
    throw new SettingsError([`${cert ? 'TEMPORAL_TLS_KEY' : 'TEMPORAL_TLS_CERT'}: missing (a client certificate needs both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY)`]);
  }
  const useTls = settings.TEMPORAL_TLS || Boolean(cert || ca || serverName || apiKey);
  const tls: TLSConfig | undefined = useTls
    ? {
        serverNameOverride: serverName,
        serverRootCACertificate: ca ? readPemSetting('TEMPORAL_TLS_CA', ca) : undefined,
        clientCertPair: cert && key ? { crt: readPemSetting('TEMPORAL_TLS_CERT', cert), key: readPemSetting('TEMPORAL_TLS_KEY', key) } : undefined,
      }
    : undefined;
  return { address: settings.TEMPORAL_ADDRESS, tls, apiKey };
}

// A `temporal.toml` profile (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE), as the `temporal` CLI and the
// SDKs read it, turned into the TEMPORAL_* variables it stands for: what the environment or
// BOOT_IMAGE_SETTINGS set wins over it.
import fs from 'node:fs';
import { loadClientConfigProfile, type ClientConfigProfile, type ConfigDataSource } from '@temporalio/envconfig';
import { SettingsError, type Environment } from './load';

export function temporalProfileVariables(file: string, profileName = 'default'): Environment {
  let data: string;
  try {
    data = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new SettingsError([`TEMPORAL_CONFIG_FILE: cannot read ${file}: ${(error as NodeJS.ErrnoException).code}`]);
  }
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ configSource: { data }, profile: profileName, disableEnv: true, configFileStrict: true });
  } catch (error) {
    const message = (error as Error).message;
    const variable = /Profile '.*' not found/.test(message) ? 'TEMPORAL_PROFILE' : 'TEMPORAL_CONFIG_FILE';
    throw new SettingsError([`${variable}: cannot read profile "${profileName}" of ${file}: ${message}`]);
  }
  const problems: string[] = [];
  const path = (key: string, source: ConfigDataSource | undefined): string | undefined => {
    if (source && !('path' in source)) problems.push(`TEMPORAL_CONFIG_FILE: profile "${profileName}": tls.${key}_data is not supported, use tls.${key}_path`);
    return source && 'path' in source ? source.path : undefined;
  };
  if (profile.grpcMeta && Object.keys(profile.grpcMeta).length) problems.push(`TEMPORAL_CONFIG_FILE: profile "${profileName}": grpc_meta is not supported`);
  const tls = profile.tls && !profile.tls.disabled ? profile.tls : undefined;
  const variables: Environment = {
    TEMPORAL_ADDRESS: profile.address,
    TEMPORAL_NAMESPACE: profile.namespace,
    TEMPORAL_API_KEY: profile.apiKey,
    TEMPORAL_TLS: tls ? 'true' : undefined,
    TEMPORAL_TLS_CERT: path('client_cert', tls?.clientCert),
    TEMPORAL_TLS_KEY: path('client_key', tls?.clientKey),
    TEMPORAL_TLS_CA: path('server_ca_cert', tls?.serverCACert),
    TEMPORAL_TLS_SERVER_NAME: tls?.serverName,
  };
  if (problems.length) throw new SettingsError(problems);
  return Object.fromEntries(Object.entries(variables).filter(([, value]) => value !== undefined));
}

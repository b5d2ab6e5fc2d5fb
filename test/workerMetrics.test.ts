// Where a worker serves its Prometheus metrics, from METRICS_BIND_ADDRESS and its role.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { readSettings, SettingsError, type Environment } from '../settings/load';
import { installMetrics, metricsBindAddress } from '../workers/metrics';

const worker = (env: Environment) => readSettings(['worker'], env).worker;

describe('METRICS_BIND_ADDRESS', () => {
  it('defaults to a port per role, on every interface', () => {
    expect(metricsBindAddress('orchestrator', worker({}))).toBe('0.0.0.0:9464');
    expect(metricsBindAddress('iscsi-server', worker({}))).toBe('0.0.0.0:9465');
  });

  it('takes a host:port, and no metrics when set empty', () => {
    expect(metricsBindAddress('orchestrator', worker({ METRICS_BIND_ADDRESS: '127.0.6.1:9500' }))).toBe('127.0.6.1:9500');
    expect(metricsBindAddress('iscsi-server', worker({ METRICS_BIND_ADDRESS: '[::1]:9465' }))).toBe('[::1]:9465');
    expect(metricsBindAddress('iscsi-server', worker({ METRICS_BIND_ADDRESS: '' }))).toBeUndefined();
  });

  it('is a setting of the schema: refused with every other invalid worker setting at once', () => {
    for (const bad of ['9464', 'localhost', 'host:port', '127.0.0.1:99999', 'http://127.0.0.1:9464']) {
      const problems = (() => {
        try {
          worker({ METRICS_BIND_ADDRESS: bad, WORKER_HEALTH_PORT: 'none' });
        } catch (error) {
          if (error instanceof SettingsError) return error.problems;
        }
        return [];
      })();
      expect(problems.map((problem) => problem.split(':')[0]).sort()).toEqual(['METRICS_BIND_ADDRESS', 'WORKER_HEALTH_PORT']);
      expect(problems).toContain('METRICS_BIND_ADDRESS: must be host:port (or empty for none)');
    }
  });

  it('names the address when it cannot serve there', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.6.100', resolve));
    const address = `127.0.6.100:${(taken.address() as net.AddressInfo).port}`;
    try {
      expect(() => installMetrics('orchestrator', worker({ METRICS_BIND_ADDRESS: address }))).toThrow(`cannot serve metrics on METRICS_BIND_ADDRESS=${address}: Failed to start prometheus metrics exporter: Address already in use`);
    } finally {
      taken.close();
    }
  });
});

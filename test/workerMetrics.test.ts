// Where a worker serves its Prometheus metrics, from METRICS_BIND_ADDRESS and its role.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { installMetrics, metricsBindAddress } from '../workers/metrics';

describe('METRICS_BIND_ADDRESS', () => {
  it('defaults to a port per role, on every interface', () => {
    expect(metricsBindAddress('orchestrator', {})).toBe('0.0.0.0:9464');
    expect(metricsBindAddress('iscsi-server', {})).toBe('0.0.0.0:9465');
  });

  it('takes a host:port, and no metrics when set empty', () => {
    expect(metricsBindAddress('orchestrator', { METRICS_BIND_ADDRESS: '127.0.6.1:9500' })).toBe('127.0.6.1:9500');
    expect(metricsBindAddress('iscsi-server', { METRICS_BIND_ADDRESS: '[::1]:9465' })).toBe('[::1]:9465');
    expect(metricsBindAddress('iscsi-server', { METRICS_BIND_ADDRESS: '' })).toBeUndefined();
  });

  it('refuses anything else, naming the variable and the value', () => {
    for (const bad of ['9464', 'localhost', 'host:port', '127.0.0.1:99999', 'http://127.0.0.1:9464']) {
      expect(() => metricsBindAddress('orchestrator', { METRICS_BIND_ADDRESS: bad })).toThrow(`METRICS_BIND_ADDRESS must be host:port (or empty for no metrics), not "${bad}"`);
    }
  });

  it('names the address when it cannot serve there', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.6.100', resolve));
    const address = `127.0.6.100:${(taken.address() as net.AddressInfo).port}`;
    try {
      expect(() => installMetrics('orchestrator', { METRICS_BIND_ADDRESS: address })).toThrow(`cannot serve metrics on METRICS_BIND_ADDRESS=${address}: Failed to start prometheus metrics exporter: Address already in use`);
    } finally {
      taken.close();
    }
  });
});

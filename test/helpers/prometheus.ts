// Scraping a worker's Prometheus endpoint in tests, and the series a Grafana dashboard queries.
import fs from 'node:fs';
import { metricCatalogue } from '../../lib/metrics';

/** Each sample name's total over all its label sets (a histogram's _bucket, _sum, _count apart). */
export type Totals = Map<string, number>;

export async function scrape(address: string): Promise<Totals> {
  const response = await fetch(`http://${address}/metrics`);
  if (!response.ok) throw new Error(`GET http://${address}/metrics: ${response.status}`);
  const totals: Totals = new Map();
  for (const line of (await response.text()).split('\n')) {
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{.*\})?\s+(\S+)/.exec(line);
    if (sample) totals.set(sample[1], (totals.get(sample[1]) ?? 0) + Number(sample[2]));
  }
  return totals;
}

/** The sample that moves whenever a catalogue series records: a counter itself, a histogram's count. */
export const movingSample = (spec: (typeof metricCatalogue)[keyof typeof metricCatalogue]) => (spec.kind === 'histogram' ? `${spec.name}_count` : spec.name);

/** Every metric name the dashboard's queries use (ours and the SDK's). */
export function dashboardSeries(file: string): Set<string> {
  const dashboard = JSON.parse(fs.readFileSync(file, 'utf8')) as { panels: { targets: { expr: string }[] }[] };
  const exprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
  return new Set(exprs.flatMap((expr) => [...expr.matchAll(/\b(?:boot_image|temporal)_\w+/g)].map((match) => match[0])));
}

/** Scrapes taken one after another until stopped, each with the time it was taken. */
export interface Sampler {
  readonly samples: { at: number; totals: Map<string, Totals> }[];
  stop(): Promise<void>;
}

export function sampleEvery(intervalMs: number, scrapeAll: () => Promise<Map<string, Totals>>): Sampler {
  const samples: Sampler['samples'] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = Date.now();
      samples.push({ at, totals: await scrapeAll() });
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, intervalMs - (Date.now() - at))));
    }
  })();
  return {
    samples,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

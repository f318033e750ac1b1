import { routes } from '@espresso/api';
import { dropReasonName, dropReasons } from '@espresso/counters';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Registry } from 'prom-client';
import type { ControlPlane } from '../state/control-plane.ts';
import { seriesKey } from '../state/series.ts';
import { registerOffloadMetrics } from './offload-metrics.ts';
import { datapathDrops, xfrmStat } from './views/stats-view.ts';

type Labels = Record<string, string>;

/**
 * A counter whose value is read from the datapath on each scrape (it is never incremented here): reset,
 * then set each series to the total read.
 */
function readCounter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: () => [Labels, number][],
) {
  return new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.inc(labels, value);
    },
  });
}

function readGauge(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: () => [Labels, number][],
) {
  return new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.set(labels, value);
    },
  });
}

/**
 * The Prometheus view of the control plane. SA series are keyed by reqid when an SA has one (else by
 * name), and deleted SAs' counters stay in their series, so a rekey continues a series instead of
 * resetting it.
 */
export function createMetrics(cp: ControlPlane, version: string): Registry {
  const registry = new Registry();
  readGauge(registry, 'espresso_info', 'Espresso version', ['version'], () => [[{ version }, 1]]);
  readGauge(registry, 'espresso_sas', 'SAs by direction and state', ['direction', 'state'], () => {
    const counts = new Map<string, number>();
    for (const sa of cp.sad.list()) {
      const key = `${sa.identity.direction}/${sa.state}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return [...counts].map(([key, n]) => {
      const [direction = '', state = ''] = key.split('/');
      return [{ direction, state }, n];
    });
  });
  readGauge(registry, 'espresso_policies', 'policies by direction', ['direction'], () =>
    (['in', 'out', 'fwd'] as const).map((direction) => [
      { direction },
      cp.spd.list().filter((p) => p.direction === direction).length,
    ]),
  );
  readGauge(registry, 'espresso_sa_groups', 'SA groups', [], () => [[{}, cp.sad.groups().length]]);
  readGauge(registry, 'espresso_spi_reservations', 'allocated SPIs not yet used by an SA', [], () => [
    [{}, cp.sad.spis.reservations().length],
  ]);
  readGauge(registry, 'espresso_acquires_pending', 'pending ACQUIREs', [], () => [[{}, cp.acquires.size]]);

  readCounter(
    registry,
    'espresso_xfrm_stat_total',
    'drops folded into the counters of Linux /proc/net/xfrm_stat',
    ['counter'],
    () =>
      Object.entries(xfrmStat(datapathDrops(cp.datapath.stats()))).map(([counter, n]) => [{ counter }, n]),
  );
  readCounter(registry, 'espresso_drops_total', 'drops by reason, all workers and io', ['reason'], () => {
    const drops = datapathDrops(cp.datapath.stats());
    return dropReasons.map((r) => [{ reason: r.name }, drops[r.code] ?? 0]);
  });
  readCounter(
    registry,
    'espresso_worker_packets_total',
    'packets by worker and direction',
    ['worker', 'direction'],
    () =>
      cp.datapath.stats().workers.flatMap((w) => [
        [{ worker: String(w.index), direction: 'in' }, w.packetsIn],
        [{ worker: String(w.index), direction: 'out' }, w.packetsOut],
      ]),
  );
  readCounter(
    registry,
    'espresso_worker_bytes_total',
    'bytes by worker and direction',
    ['worker', 'direction'],
    () =>
      cp.datapath.stats().workers.flatMap((w) => [
        [{ worker: String(w.index), direction: 'in' }, w.bytesIn],
        [{ worker: String(w.index), direction: 'out' }, w.bytesOut],
      ]),
  );
  readCounter(registry, 'espresso_worker_restarts_total', 'times a worker was replaced', ['worker'], () =>
    cp.datapath.stats().workers.map((w) => [{ worker: String(w.index) }, w.restarts]),
  );

  const series = () => {
    const totals = cp.retired.snapshot();
    for (const sa of cp.sad.list()) {
      const c = cp.saCounters(sa.name);
      if (c === undefined) continue;
      const key = `${sa.identity.direction}\u0000${seriesKey(sa)}`;
      const entry = totals.get(key) ?? {
        series: seriesKey(sa),
        direction: sa.identity.direction,
        packets: 0,
        bytes: 0,
        drops: new Array<number>(c.drops.length).fill(0),
      };
      entry.packets += c.packets;
      entry.bytes += c.bytes;
      for (let i = 0; i < c.drops.length; i++) entry.drops[i] = (entry.drops[i] ?? 0) + (c.drops[i] ?? 0);
      totals.set(key, entry);
    }
    return [...totals.values()];
  };
  readCounter(
    registry,
    'espresso_sa_packets_total',
    'packets per SA series (reqid, else name)',
    ['sa', 'direction'],
    () => series().map((s) => [{ sa: s.series, direction: s.direction }, s.packets]),
  );
  readCounter(
    registry,
    'espresso_sa_bytes_total',
    'bytes per SA series (reqid, else name)',
    ['sa', 'direction'],
    () => series().map((s) => [{ sa: s.series, direction: s.direction }, s.bytes]),
  );
  readCounter(
    registry,
    'espresso_sa_drops_total',
    'drops per SA series and reason (reasons that occurred)',
    ['sa', 'direction', 'reason'],
    () =>
      series().flatMap((s) =>
        s.drops.flatMap((n, code) =>
          n > 0
            ? [
                [{ sa: s.series, direction: s.direction, reason: dropReasonName(code) }, n] as [
                  Labels,
                  number,
                ],
              ]
            : [],
        ),
      ),
  );

  registerOffloadMetrics(registry, cp);

  const countEvent = tallyCounter(registry, 'espresso_events_total', 'events published, by type', ['type']);
  cp.events.subscribe((event) => countEvent(event.type, () => ({ type: event.type })));
  return registry;
}

/**
 * A counter incremented per label set from plain numbers, handed to prom-client when it is scraped:
 * prom-client's own increment hashes and checks the label object on every call, here once per set.
 * Returns the increment, which takes the set's key and (called once, for a new key) its labels.
 */
function tallyCounter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
): (key: string, labels: () => Labels) => void {
  const tallies = new Map<string, { readonly labels: Labels; count: number }>();
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const tally of tallies.values()) this.inc(tally.labels, tally.count);
    },
  });
  return (key, labels) => {
    const tally = tallies.get(key);
    if (tally === undefined) tallies.set(key, { labels: labels(), count: 1 });
    else tally.count++;
  };
}

export function registerMetricsRoute(app: FastifyInstance, registry: Registry): void {
  const route = routes.getMetrics;
  const countRequest = tallyCounter(
    registry,
    'espresso_api_requests_total',
    'API requests by route and status',
    ['method', 'route', 'status'],
  );
  const count = (method: string, status: number, url: string) =>
    countRequest(`${method} ${status} ${url}`, () => ({ method, route: url, status: String(status) }));
  // Each route gets its own hook, which knows the route's path: reading it from the request
  // (request.routeOptions) builds an object on every request.
  app.addHook('onRoute', (options) => {
    const url = options.url;
    const hook = (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      count(request.method, reply.statusCode, url);
      done();
    };
    const own = options.onResponse;
    options.onResponse = own === undefined ? [hook] : [...(Array.isArray(own) ? own : [own]), hook];
  });
  // Requests that matched no route.
  app.addHook('onResponse', (request, reply, done) => {
    if (request.is404) count(request.method, reply.statusCode, 'unknown');
    done();
  });
  app.route({
    method: route.method,
    url: route.path,
    config: { scope: route.scope },
    handler: async (_request, reply) => {
      const text = await registry.metrics();
      return reply.type(registry.contentType).send(text);
    },
  });
}

import { openApiDocument, type RouteSpec, routes } from '@espresso/api';
import { probeAlgorithms } from '@espresso/crypto';
import type { FastifyInstance } from 'fastify';
import type { ControlPlane } from '../../state/control-plane.ts';
import { register } from '../register.ts';
import { softwareDatapathName } from '../views/placement-view.ts';

export function registerSystemRoutes(app: FastifyInstance, cp: ControlPlane, version: string): void {
  const document = openApiDocument(Object.values(routes) as RouteSpec[], {
    title: 'Espresso',
    version,
    description:
      'Control plane of a userspace IPsec dataplane: SAs, SA groups, SPI allocation, policies, configuration, statistics, events, offload placement, gateway interfaces and packet captures.',
  });

  register(app, routes.getHealth, () => ({
    body: {
      status: 'ok',
      version,
      uptimeSeconds: Math.max(0, Math.floor((cp.clock() - cp.startedAt) / 1000)),
      datapath: softwareDatapathName(cp),
      workers: cp.datapath.workers,
      sas: cp.sad.size,
      policies: cp.spd.list().length,
    },
  }));

  register(app, routes.getOpenApi, () => ({ body: document }));

  const probe = probeAlgorithms();
  register(app, routes.getAlgorithms, () => ({ body: probe }));
}

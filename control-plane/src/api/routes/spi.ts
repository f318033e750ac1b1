import { routes, type SpiAllocate } from '@espresso/api';
import type { FastifyInstance } from 'fastify';
import type { ControlPlane } from '../../state/control-plane.ts';
import { register } from '../register.ts';
import { iso, spiHex } from '../views/sa-view.ts';

export function registerSpiRoutes(app: FastifyInstance, cp: ControlPlane): void {
  const view = (r: { spi: number; domain: number; expiresAt: number }) => ({
    spi: r.spi,
    spiHex: spiHex(r.spi),
    domain: r.domain,
    expiresAt: iso(r.expiresAt),
  });

  register(app, routes.allocateSpi, ({ body }) => {
    const reservation = cp.allocateSpi(body as SpiAllocate);
    return { status: 201, body: view(reservation) };
  });

  register(app, routes.listSpi, () => ({
    body: {
      range: { ...cp.sad.spis.range },
      unusedTimeoutMs: cp.sad.spis.unusedTimeoutMs,
      reservations: cp.sad.spis.reservations().map(view),
    },
  }));

  register(app, routes.releaseSpi, ({ params, query }) => {
    cp.releaseSpi((query.domain as number | undefined) ?? 0, params.spi as number);
    return { status: 204 };
  });
}

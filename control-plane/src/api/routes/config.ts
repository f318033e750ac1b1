import { type ConfigDocument, routes } from '@espresso/api';
import type { FastifyInstance } from 'fastify';
import { applyConfig, validateConfig } from '../../state/config-apply.ts';
import { readConfig } from '../../state/config-read.ts';
import type { ControlPlane } from '../../state/control-plane.ts';
import { register } from '../register.ts';

export function registerConfigRoutes(app: FastifyInstance, cp: ControlPlane): void {
  register(app, routes.getConfig, () => ({ body: readConfig(cp) }));

  register(app, routes.applyConfig, async ({ body }) => ({
    body: { applied: true, changes: await applyConfig(cp, body as ConfigDocument) },
  }));

  register(app, routes.validateConfig, ({ body }) => ({
    body: { valid: true, changes: validateConfig(cp, body as ConfigDocument) },
  }));
}

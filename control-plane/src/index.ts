export { loadTokens, parseTokenFile, TokenSet } from './api/auth.ts';
export { isLoopback, parseListenAddress } from './api/listen-address.ts';
export { type ApiServerOptions, createApiServer } from './api/server.ts';
export { InProcessDatapath, type TrafficSample } from './datapath/in-process-datapath.ts';
export { ApiError } from './errors.ts';
export { EventBus } from './events/event-bus.ts';
export { applyConfig, validateConfig } from './state/config-apply.ts';
export { readConfig } from './state/config-read.ts';
export { ControlPlane, type ControlPlaneDatapath, type ControlPlaneOptions } from './state/control-plane.ts';

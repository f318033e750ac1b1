// The package's install script (see build-addon.mjs beside it).
import { fileURLToPath } from 'node:url';
import { buildAddon } from './build-addon.mjs';

buildAddon({
  packageDir: fileURLToPath(new URL('..', import.meta.url)),
  what: 'the system-call helper',
  target: 'espresso_sys',
  headers: ['node_api.h', 'uv.h'],
  without: 'TUN, raw ESP and netlink will report themselves unavailable, ESP in UDP works without it.',
});

// The package's install script. The builder lives with the other native helper, @espresso/sys; it is a
// plain source file there, so it works whether or not npm has installed or built that package yet.
import { fileURLToPath } from 'node:url';
import { buildAddon } from '../../sys/native/build-addon.mjs';

buildAddon({
  packageDir: fileURLToPath(new URL('..', import.meta.url)),
  what: 'the native openssl engine',
  target: 'espresso_crypto',
  headers: ['node_api.h', 'openssl/evp.h'],
  without: 'Espresso will use the other crypto engines.',
});

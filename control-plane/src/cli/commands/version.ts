import type { Command } from '../command.ts';
import { espressoVersion } from '../version.ts';

export const versionCommand: Command = {
  name: 'version',
  summary: 'print the versions of Espresso, Node.js and its OpenSSL',
  usage: 'espresso version\n\nPrints the versions of Espresso, Node.js and the OpenSSL that Node.js carries.',
  options: {},
  async run(_args, io) {
    io.out(`espresso ${espressoVersion()}\nnode ${process.version}\nopenssl ${process.versions.openssl}\n`);
    return 0;
  },
};

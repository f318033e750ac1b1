import { main } from '../scenarios/decrypt.ts';

await main(process.argv.slice(2));

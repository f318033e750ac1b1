import { main } from '../scenarios/idle-mode.ts';

await main(process.argv.slice(2));

import { main } from '../scenarios/scaling.ts';

await main(process.argv.slice(2));

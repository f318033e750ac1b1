import { main } from '../scenarios/both.ts';

await main(process.argv.slice(2));

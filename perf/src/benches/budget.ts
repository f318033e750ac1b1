import { main } from '../scenarios/budget-sweep.ts';

await main(process.argv.slice(2));

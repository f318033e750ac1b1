import { main } from '../scenarios/qos-reorder.ts';

await main(process.argv.slice(2));

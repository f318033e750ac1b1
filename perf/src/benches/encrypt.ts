import { main } from '../scenarios/encrypt.ts';

await main(process.argv.slice(2));

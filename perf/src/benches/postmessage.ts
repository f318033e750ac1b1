import { main } from '../scenarios/postmessage.ts';

await main(process.argv.slice(2));

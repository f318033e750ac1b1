import { DemoOptionError, resolveDemoOptions } from '../../demo/demo-options.ts';
import { runDemo } from '../../demo/demo-run.ts';
import { type Command, stringOption, UsageError } from '../command.ts';
import { espressoVersion } from '../version.ts';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'two gateways on loopback forwarding generated traffic, with a live view (npm start)',
  usage: `espresso demo [--rate PPS|max] [--size BYTES|imix] [--workers N] [--duration S]
              [--listen ADDR:PORT] [--outside-ports PORT_A,PORT_B] [--plain]

Runs the embedded default configuration, no root needed: gateway A encrypts, gateway B decrypts,
with AES-GCM-256 tunnel-mode SAs (one per worker, fresh random keys) and ESP in UDP between two
sockets on 127.0.0.1. The built-in generator feeds A's inside with UDP flows from 10.1.0.0/16 to
10.2.0.0/16; the sink checks every packet B delivers (content, order, nothing lost or duplicated).
Each gateway serves its HTTP API, so from another terminal:
  espresso stats                                   gateway A (default --listen)
  espresso sa list --server http://127.0.0.1:8471  gateway B
The view shows packets/s and Gbit/s at each step, drops by reason, the sink's counts and each
worker's load (busy share and mean batch). Ctrl-C or SIGTERM stops it: the traffic stops, what is in
flight drains, a summary is printed and the exit status is 0.

  --rate PPS|max        packets per second offered to A (default max: as fast as it goes)
  --size BYTES|imix     inner IPv4 packet size, 44 to 1500, or a mix such as imix or
                        64:7,576:4,1500:1 (default 512)
  --workers N           datapath worker threads of each gateway (default 1)
  --duration S          stop after S seconds (default: run until Ctrl-C)
  --listen ADDR:PORT    gateway A's API (default 127.0.0.1:8470); B's is on the next port,
                        both on free ports when PORT is 0
  --outside-ports A,B   the gateways' UDP ports on 127.0.0.1 (default 0,0: free ports)
  --plain               one plain line per second even on a terminal (the default when
                        standard output is not a terminal)`,
  options: {
    rate: { type: 'string' },
    size: { type: 'string' },
    workers: { type: 'string' },
    duration: { type: 'string' },
    listen: { type: 'string' },
    'outside-ports': { type: 'string' },
    plain: { type: 'boolean' },
  },
  async run(args, io) {
    let options: ReturnType<typeof resolveDemoOptions>;
    try {
      options = resolveDemoOptions(
        {
          rate: stringOption(args, 'rate'),
          size: stringOption(args, 'size'),
          workers: stringOption(args, 'workers'),
          duration: stringOption(args, 'duration'),
          listen: stringOption(args, 'listen'),
          outsidePorts: stringOption(args, 'outside-ports'),
          plain: args.values.plain === true,
        },
        process.stdout.isTTY === true,
      );
    } catch (error) {
      if (error instanceof DemoOptionError) throw new UsageError(error.message);
      throw error;
    }
    // Signals are taken from the start, so a Ctrl-C while the gateways start still stops them cleanly.
    const controller = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
      if (controller.signal.aborted) {
        io.err(`espresso demo: ${signal} again, exiting without cleaning up\n`);
        process.exit(130);
      }
      io.err(`espresso demo: ${signal}, stopping\n`);
      controller.abort(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      return await runDemo(options, io, controller.signal, espressoVersion());
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};

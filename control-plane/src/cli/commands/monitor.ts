import type { EspressoEvent } from '@espresso/api';
import { type Command, stringOption } from '../command.ts';
import { connectionOptions, connectionUsage, isJson, withClient } from '../support/connection.ts';
import { placementEventText } from '../support/placement-format.ts';

/** One line per event, in the manner of `ip xfrm monitor`. */
export function eventLine(event: EspressoEvent): string {
  const placement = placementEventText(event);
  if (placement !== null) return `${event.time} [${event.id}] ${event.type} ${placement}\n`;
  const fields = Object.entries(event.data)
    .map(([k, v]) => `${k} ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
    .join(' ');
  return `${event.time} [${event.id}] ${event.type} ${fields}\n`;
}

export const monitorCommand: Command = {
  name: 'monitor',
  summary:
    'follow the event stream (acquire, expire, NAT change, SA and policy changes, offload placement), like ip xfrm monitor',
  usage: `espresso monitor [--types TYPE,...] [--since ID] [--count N]

Prints events as they happen until interrupted (or until --count events). --since ID first replays
the events after ID that the server still holds. --json prints one JSON object per line.

${connectionUsage}`,
  options: {
    ...connectionOptions,
    types: { type: 'string' },
    since: { type: 'string' },
    count: { type: 'string' },
  },
  async run(args, io) {
    const types = stringOption(args, 'types')?.split(',');
    const since = stringOption(args, 'since');
    const limit = Number(stringOption(args, 'count') ?? Number.POSITIVE_INFINITY);
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      await withClient(args, async (client) => {
        let seen = 0;
        const stream = client.events({
          ...(types === undefined ? {} : { types }),
          ...(since === undefined ? {} : { lastEventId: Number(since) }),
          signal: controller.signal,
        });
        for await (const event of stream) {
          io.out(isJson(args) ? `${JSON.stringify(event)}\n` : eventLine(event));
          if (++seen >= limit) break;
        }
      });
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    return 0;
  },
};

import { parseDscpMix } from '@espresso/traffic';
import type { Chart, TargetResult } from '../report/model.ts';
import { type BothTotals, measureBoth } from './both-pipeline.ts';
import { parseScenarioOptions, type ScenarioOptions } from './cli-options.ts';
import { poolSettings } from './gateway.ts';
import { machineInfo } from './machine-info.ts';
import { problemText } from './pipeline-result.ts';
import { measureReferences, publish, referenceTable } from './reporting.ts';
import type { SaTopology } from './sa-plan.ts';

const usage = `Usage: npm run bench -- qos-reorder [options]

Per-resource SAs against one shared SA under QoS reordering between classes of service (a problem
raised at the Linux IPsec workshops). Gateway A encrypts flows of several DSCP classes; on the wire a
priority scheduler lets the other classes overtake the delayed class by D packets; gateway B's replay
window (--window) refuses what falls below it. With one SA for all classes, the delayed class's
sequence numbers fall behind the window once D reaches it; with an SA per DSCP class (an RFC 9611
group keyed by DSCP) each class has its own sequence and window, and nothing is refused.

  --delayed CLASS   the class held back (default be)
  --delays LIST     D values as multiples of the window (default 0,0.5,0.9,1.1,2,4)
Defaults here: --dscp be:3,af41:2,ef:1 --window 128 --seconds 1 --warmup 0 (unless given).
`;

const TOPOLOGIES: readonly { topology: SaTopology; name: string }[] = [
  { topology: 'shared', name: 'one shared SA' },
  { topology: 'per-dscp', name: 'an SA per DSCP class' },
];

/** The scenario's own defaults for options the user did not give. */
function withDefaults(o: ScenarioOptions, argv: readonly string[]): ScenarioOptions {
  const given = (flag: string) => argv.some((a) => a === flag || a.startsWith(`${flag}=`));
  return {
    ...o,
    ...(given('--dscp') ? {} : { dscp: parseDscpMix('be:3,af41:2,ef:1'), dscpText: 'be:3,af41:2,ef:1' }),
    ...(given('--window') ? {} : { window: 128 }),
    ...(given('--seconds') ? {} : { seconds: 1 }),
    ...(given('--warmup') ? {} : { warmup: 0 }),
  };
}

export async function main(argv: readonly string[]): Promise<void> {
  const parsed = parseScenarioOptions('qos-reorder', argv, usage, {
    delayed: { type: 'string', default: 'be' },
    delays: { type: 'string', default: '0,0.5,0.9,1.1,2,4' },
  });
  const o = withDefaults(parsed.options, argv);
  const delayed = parseDscpMix(String(parsed.extra.delayed)).dscp[0]!;
  if (!o.dscp.dscp.includes(delayed)) {
    process.stderr.write(`--delayed: class ${delayed} is not in the --dscp mix\n`);
    process.exit(2);
  }
  const multiples = String(parsed.extra.delays).split(',').map(Number);
  if (multiples.some((m) => !(m >= 0 && m <= 64))) {
    process.stderr.write('--delays: multiples of the window from 0 to 64\n');
    process.exit(2);
  }
  const delays = multiples.map((m) => Math.round(m * o.window));
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const refs = measureReferences(o, [o.workers], false);
  const runs: {
    topology: SaTopology;
    name: string;
    delay: number;
    totals: BothTotals;
    rate: number;
    verified: boolean;
    problems: string;
  }[] = [];
  for (const delay of delays) {
    for (const t of TOPOLOGIES) {
      process.stdout.write(`  ${t.name}, class ${delayed} overtaken by ${delay} packets ...\n`);
      const r = await measureBoth(
        o,
        poolSettings(o),
        poolSettings(o),
        { topology: t.topology, classDelay: { [delayed]: delay } },
        `${t.name}, D ${delay}`,
      );
      runs.push({
        ...t,
        delay,
        totals: r.totals,
        rate: r.rate,
        verified: r.verified,
        problems: problemText(r),
      });
    }
  }
  const pct = (n: number, of: number) => (of === 0 ? 0 : (100 * n) / of);
  const charts: Chart[] = [
    {
      kind: 'line',
      id: 'replay-drops',
      title: `Replay drops at gateway B (window ${o.window}) as QoS delays class ${delayed}`,
      xLabel: `packets of other classes that overtake class ${delayed} (D)`,
      yLabel: '% of packets sent',
      series: TOPOLOGIES.map((t) => ({
        name: t.name,
        points: runs
          .filter((r) => r.topology === t.topology)
          .map((r) => [r.delay, pct(r.totals.replayDrops, r.totals.sent)] as const),
      })),
    },
  ];
  const worst = (topology: SaTopology) =>
    Math.max(
      ...runs.filter((r) => r.topology === topology && r.delay >= o.window).map((r) => r.totals.replayDrops),
      0,
    );
  const targets: TargetResult[] = [];
  const perClassDrops = runs
    .filter((r) => r.topology === 'per-dscp')
    .reduce((a, r) => a + r.totals.replayDrops, 0);
  publish({
    scenario: 'qos-reorder',
    title: 'Per-resource SAs against one shared SA under QoS reordering',
    description: `Flows of classes ${o.dscpText} from gateway A to gateway B; on the wire class ${delayed} is overtaken by D packets of the other classes (order within a class kept); the outer DSCP is copied from the inner packet so the wire can see the class. Gateway B's inbound SAs have a replay window of ${o.window}.`,
    command: parsed.command,
    startedAt,
    machine: machine.info(),
    options: o,
    extraOptions: { delayed, delays: delays.join(',') },
    tables: [
      {
        title: 'Replay drops and delivery by delay',
        header: [
          'SAs',
          'D',
          'D / window',
          'sent',
          'delivered',
          'replay drops at B',
          'replay drops %',
          'reordered at the sink',
          'packets/s',
          'verified',
        ],
        rows: runs.map((r) => [
          r.name,
          String(r.delay),
          (r.delay / o.window).toFixed(2),
          String(r.totals.sent),
          String(r.totals.delivered),
          String(r.totals.replayDrops),
          pct(r.totals.replayDrops, r.totals.sent).toFixed(2),
          String(r.totals.reordered),
          r.rate.toFixed(0),
          r.verified ? 'yes' : r.problems,
        ]),
      },
      referenceTable(o, refs),
    ],
    charts,
    targets,
    notes: [
      `With one shared SA, once D reaches the window (${o.window}) the delayed class arrives below the window and is refused: ${worst('shared')} replay drops in the worst run. With an SA per DSCP class: ${perClassDrops} replay drops over all runs.`,
      '"verified" means every packet the sink did not get is a counted drop (a replay drop at B here), and nothing arrived corrupted or twice.',
      'Throughput is not the point of this scenario (io also runs the QoS scheduler); see encrypt, decrypt and both.',
    ],
    data: { runs, references: refs },
  });
}

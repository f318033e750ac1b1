import { type PolicyView, routes } from '@espresso/api';
import { type Command, type ParsedArgs, stringOption, UsageError } from '../command.ts';
import { connectionOptions, connectionUsage, isJson, printJson, withClient } from '../support/connection.ts';
import { table } from '../support/format.ts';
import { integerArgument, readJson } from '../support/input.ts';

const usage = `espresso policy add|list|del ...

  espresso policy add [--file FILE | fields...]
  espresso policy list [--dir in|out|fwd] [--decorrelated]
  espresso policy del ID

Policy fields (or --file FILE with the JSON of POST /v1/policies, - for standard input):
  --id ID  --dir in|out|fwd  --priority N (lower first)
  --local PREFIX --remote PREFIX  --proto tcp|udp|icmp|N  --local-port P[-Q]  --remote-port P[-Q]
  --action protect|bypass|discard  --mode tunnel|transport|beet|iptfs  --sa NAME | --group NAME | --reqid N
  --trap  --pfp  --pfp-cap N

${connectionUsage}`;

function ports(value: string, option: string): number | { from: number; to: number } {
  const [a, b] = value.split('-');
  const from = integerArgument(a ?? '', option, 65535);
  return b === undefined ? from : { from, to: integerArgument(b, option, 65535) };
}

function policyFromArgs(args: ParsedArgs): unknown {
  const file = stringOption(args, 'file');
  if (file !== undefined) return readJson(file);
  const need = (name: string) => {
    const value = stringOption(args, name);
    if (value === undefined) throw new UsageError(`missing --${name} (or give the policy as --file FILE)`);
    return value;
  };
  const policy: Record<string, unknown> = {
    direction: need('dir'),
    local: need('local'),
    remote: need('remote'),
    action: need('action'),
  };
  const id = stringOption(args, 'id');
  if (id !== undefined) policy.id = id;
  const priority = stringOption(args, 'priority');
  if (priority !== undefined) policy.priority = Number(priority);
  const proto = stringOption(args, 'proto');
  if (proto !== undefined) policy.protocol = /^\d+$/.test(proto) ? Number(proto) : proto;
  const lp = stringOption(args, 'local-port');
  if (lp !== undefined) policy.localPorts = ports(lp, 'local-port');
  const rp = stringOption(args, 'remote-port');
  if (rp !== undefined) policy.remotePorts = ports(rp, 'remote-port');
  if (policy.action === 'protect') {
    const template: Record<string, unknown> = { mode: stringOption(args, 'mode') ?? 'tunnel' };
    const sa = stringOption(args, 'sa');
    if (sa !== undefined) template.sa = { name: sa };
    const group = stringOption(args, 'group');
    if (group !== undefined) template.saGroup = group;
    const reqid = stringOption(args, 'reqid');
    if (reqid !== undefined) template.reqid = integerArgument(reqid, 'reqid');
    policy.template = template;
  }
  if (args.values.trap === true) policy.trap = true;
  if (args.values.pfp === true) policy.pfp = true;
  const cap = stringOption(args, 'pfp-cap');
  if (cap !== undefined) policy.pfpCap = integerArgument(cap, 'pfp-cap', 0x7fffffff);
  return policy;
}

function selector(p: PolicyView): string {
  const ports = (r: unknown) =>
    r === undefined
      ? ''
      : typeof r === 'number'
        ? `:${r}`
        : `:${(r as { from: number }).from}-${(r as { to: number }).to}`;
  return `${p.local}${ports(p.localPorts)} ${p.remote}${ports(p.remotePorts)} proto ${protocolText(p.protocol ?? 'any')}`;
}

function protocolText(protocol: unknown): string {
  if (typeof protocol === 'string' || typeof protocol === 'number') return String(protocol);
  const range = protocol as { from?: number; to?: number } | undefined;
  return range?.from === undefined ? 'any' : `${range.from}-${range.to}`;
}

function templateText(template: PolicyView['template']): string {
  if (template === undefined) return '-';
  if (template.saGroup !== undefined) return `${template.mode} group ${template.saGroup}`;
  if (template.reqid !== undefined) return `${template.mode} reqid ${template.reqid}`;
  if (template.sa !== undefined)
    return `${template.mode} sa ${'name' in template.sa ? template.sa.name : `spi ${template.sa.spi}`}`;
  return template.mode;
}

export const policyCommand: Command = {
  name: 'policy',
  summary: 'add, list (ordered or decorrelated) and delete policies',
  usage,
  options: {
    ...connectionOptions,
    file: { type: 'string', short: 'f' },
    id: { type: 'string' },
    dir: { type: 'string' },
    priority: { type: 'string' },
    local: { type: 'string' },
    remote: { type: 'string' },
    proto: { type: 'string' },
    'local-port': { type: 'string' },
    'remote-port': { type: 'string' },
    action: { type: 'string' },
    mode: { type: 'string' },
    sa: { type: 'string' },
    group: { type: 'string' },
    reqid: { type: 'string' },
    trap: { type: 'boolean' },
    pfp: { type: 'boolean' },
    'pfp-cap': { type: 'string' },
    decorrelated: { type: 'boolean' },
  },
  allowPositionals: true,
  async run(args, io) {
    const sub = args.positionals[0];
    switch (sub) {
      case 'add': {
        const body = policyFromArgs(args);
        const policy = await withClient(args, (c) => c.call(routes.createPolicy, { body: body as never }));
        io.out(
          isJson(args) ? printJson(policy) : `added policy ${policy.id} (position ${policy.position})\n`,
        );
        return 0;
      }
      case 'list': {
        const dir = stringOption(args, 'dir');
        const query = {
          ...(dir === undefined ? {} : { direction: dir as 'in' }),
          ...(args.values.decorrelated === true ? { view: 'decorrelated' as const } : {}),
        };
        const list = await withClient(args, (c) => c.call(routes.listPolicies, { query }));
        if (isJson(args)) {
          io.out(printJson(list));
        } else if (list.view === 'decorrelated') {
          const rows = (list.entries ?? []).map((e) => [
            String(e.index),
            e.direction,
            String(e.selector.local),
            String(e.selector.remote),
            protocolText(e.selector.protocol),
            e.action,
            e.policyId,
          ]);
          io.out(
            `SPD version ${list.version}, decorrelated\n${table(['#', 'DIR', 'LOCAL', 'REMOTE', 'PROTO', 'ACTION', 'POLICY'], rows)}`,
          );
        } else {
          const rows = (list.policies ?? []).map((p) => [
            String(p.position),
            p.id,
            p.direction,
            String(p.priority),
            selector(p),
            p.action,
            templateText(p.template),
            `${p.trap === true ? 'trap' : ''}${p.pfp === true ? ` pfp(${p.pfpSas}/${p.pfpCap})` : ''}`.trim() ||
              '-',
            String(p.counters.packets),
          ]);
          io.out(
            `SPD version ${list.version}\n${table(['#', 'ID', 'DIR', 'PRIO', 'SELECTOR', 'ACTION', 'TEMPLATE', 'FLAGS', 'PKTS'], rows)}`,
          );
        }
        return 0;
      }
      case 'del': {
        const id = args.positionals[1];
        if (id === undefined) throw new UsageError('missing the policy id');
        await withClient(args, (c) => c.call(routes.deletePolicy, { params: { id } }));
        io.out(isJson(args) ? printJson({ deleted: id }) : `deleted policy ${id}\n`);
        return 0;
      }
      default:
        throw new UsageError(
          sub === undefined ? 'missing subcommand: add, list or del' : `unknown subcommand 'policy ${sub}'`,
        );
    }
  },
};

import { execFileSync, spawnSync } from 'node:child_process';

/** Why a system tool cannot be used here, or null when it can. */
export function missingTool(tool: string): string | null {
  const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  return found.status === 0 ? null : `${tool} is not installed`;
}

/**
 * The last netlink message `ip` sent for a command (strace's sendmsg dump): the one the command is
 * about, after any interface-name lookups. Returns its bytes with the sequence number zeroed, and the
 * command's exit status (the kernel may refuse what iproute2 sent; the bytes are what matter here).
 */
export function captureIpNetlink(args: readonly string[]): {
  readonly bytes: Uint8Array;
  readonly status: number;
} {
  const run = spawnSync('strace', ['-f', '-e', 'trace=sendmsg', '-xx', '-s', '65535', 'ip', ...args], {
    encoding: 'utf8',
  });
  const sends = [
    ...run.stderr.matchAll(
      /iov_base=\[\{nlmsg_len=(\d+), nlmsg_type=(0x[0-9a-f]+|[A-Z_]+)[^}]*\}, "((?:\\x[0-9a-f]{2})*)"/g,
    ),
  ];
  const last = sends.at(-1);
  if (last === undefined)
    throw new Error(`no netlink message in strace output of ip ${args.join(' ')}:\n${run.stderr}`);
  const length = Number(last[1]);
  const type = last[2]!.startsWith('0x') ? Number.parseInt(last[2]!, 16) : Number.NaN;
  const payload = Buffer.from(last[3]!.replaceAll('\\x', ''), 'hex');
  const header = new Uint8Array(16);
  const view = new DataView(header.buffer);
  view.setUint32(0, length, true);
  view.setUint16(4, type, true);
  const flags = /nlmsg_flags=([A-Z_|]+|0x[0-9a-f]+|0)/.exec(last[0])?.[1] ?? '0';
  view.setUint16(6, parseFlags(flags), true);
  const bytes = new Uint8Array(16 + payload.length);
  bytes.set(header);
  bytes.set(payload, 16);
  return { bytes, status: run.status ?? -1 };
}

const flagBits: Readonly<Record<string, number>> = {
  NLM_F_REQUEST: 0x01,
  NLM_F_MULTI: 0x02,
  NLM_F_ACK: 0x04,
  NLM_F_ECHO: 0x08,
  NLM_F_REPLACE: 0x100,
  NLM_F_EXCL: 0x200,
  NLM_F_CREATE: 0x400,
  NLM_F_APPEND: 0x800,
};

function parseFlags(text: string): number {
  if (text.startsWith('0x')) return Number.parseInt(text, 16);
  return text.split('|').reduce((n, name) => n | (flagBits[name] ?? 0), 0);
}

/** A message with its sequence number (bytes 8..11) zeroed, for comparing with a capture. */
export function withoutSeq(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  copy.fill(0, 8, 12);
  return copy;
}

/** Why a network namespace cannot be made here (not root, no iproute2, a sandbox), or null. */
export function netnsUnavailable(): string | null {
  const missing = missingTool('ip');
  if (missing !== null) return missing;
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const name = `espresso-probe-${process.pid}`;
  const made = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  if (made.status !== 0) return `ip netns add failed: ${made.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', name]);
  return null;
}

/** Creates a network namespace for a test; the returned function deletes it (call it in `after`). */
export function createNetns(prefix: string): { readonly name: string; readonly remove: () => void } {
  const name = `${prefix}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  execFileSync('ip', ['netns', 'add', name]);
  execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return {
    name,
    remove: () => {
      spawnSync('ip', ['netns', 'del', name]);
    },
  };
}

export function ipOutput(args: readonly string[]): string {
  return execFileSync('ip', [...args], { encoding: 'utf8' });
}

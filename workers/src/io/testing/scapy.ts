import { spawnSync } from 'node:child_process';

/** Whether scapy (the independent packet builder the io tests check against) can be run. */
export const haveScapy =
  spawnSync('/usr/bin/python3', ['-c', 'import scapy.all'], { stdio: 'ignore' }).status === 0;

/**
 * Runs a Python script with scapy imported (`from scapy.all import *`); `input` reaches it as `data`
 * (parsed JSON), and what it assigns to `result` comes back parsed. Bytes travel as hex.
 */
export function scapy(script: string, input: unknown = null): unknown {
  const program = `import json, sys\nfrom scapy.all import *\ndata = json.loads(sys.stdin.read())\nresult = None\n${script}\nprint(json.dumps(result))\n`;
  const r = spawnSync('/usr/bin/python3', ['-c', program], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`scapy failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function fromHex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'hex'));
}

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { AlgorithmCase } from '@espresso/esp/testing';

/** What scapy-esp-peer.py takes as an SA. */
export interface ScapySa {
  readonly spi: number;
  readonly crypt: string;
  readonly cryptKey: string;
  readonly icv: number;
  readonly auth: string | null;
  readonly authKey: string;
  readonly mode: 'tunnel' | 'transport';
  readonly tunnel: { readonly version: 4 | 6; readonly src: string; readonly dst: string } | null;
  readonly natT: { readonly sport: number; readonly dport: number } | null;
  readonly esn: boolean;
}

const cryptNames: Record<string, string> = {
  'aes-gcm': 'AES-GCM',
  'aes-gmac': 'AES-GMAC',
  'chacha20-poly1305': 'CHACHA20-POLY1305',
  'aes-cbc': 'AES-CBC',
  null: 'NULL',
};

const authNames: Record<string, string> = {
  'hmac-sha256-128': 'SHA2-256-128',
  'hmac-sha384-192': 'SHA2-384-192',
  'hmac-sha512-256': 'SHA2-512-256',
};

/** The scapy names and key layout for one of Espresso's algorithm cases. */
export function scapyAlgorithm(
  alg: AlgorithmCase,
): Pick<ScapySa, 'crypt' | 'cryptKey' | 'icv' | 'auth' | 'authKey'> {
  const integrity = alg.integrity?.algorithm;
  return {
    crypt: cryptNames[alg.encryption.algorithm]!,
    cryptKey: alg.encryption.key,
    icv: alg.encryption.icvBytes ?? 16,
    auth: integrity === undefined || integrity === 'none' ? null : authNames[integrity]!,
    authKey: alg.integrity?.key ?? '',
  };
}

interface Pending {
  resolve: (packets: string[]) => void;
  reject: (error: Error) => void;
}

/** One long-lived scapy process answering JSON lines: the whole matrix pays for Python's start-up once. */
export class ScapyPeer {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stderr = '';

  constructor() {
    const script = new URL('./scapy-esp-peer.py', import.meta.url).pathname;
    this.child = spawn('/usr/bin/python3', [script], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    const lines = createInterface({ input: this.child.stdout });
    lines.on('line', (line) => {
      const answer = JSON.parse(line) as { id: number; ok: boolean; packets?: string[]; error?: string };
      const p = this.pending.get(answer.id);
      if (p === undefined) return;
      this.pending.delete(answer.id);
      if (answer.ok) p.resolve(answer.packets ?? []);
      else p.reject(new Error(`scapy: ${answer.error}`));
    });
    this.child.on('exit', (code) => {
      for (const p of this.pending.values())
        p.reject(new Error(`scapy peer exited (${code}): ${this.stderr}`));
      this.pending.clear();
    });
  }

  encrypt(sa: ScapySa, packets: readonly Uint8Array[], firstSeq: bigint): Promise<Uint8Array[]> {
    return this.request({ op: 'encrypt', sa, packets: packets.map(hexOf), seq: Number(firstSeq) });
  }

  decrypt(sa: ScapySa, packets: readonly Uint8Array[], seqs: readonly bigint[]): Promise<Uint8Array[]> {
    return this.request({ op: 'decrypt', sa, packets: packets.map(hexOf), seq: seqs.map(Number) });
  }

  close(): void {
    this.child.stdin.end();
  }

  private request(body: Record<string, unknown>): Promise<Uint8Array[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        resolve: (packets) => resolve(packets.map((h) => new Uint8Array(Buffer.from(h, 'hex')))),
        reject,
      });
      this.child.stdin.write(`${JSON.stringify({ id, ...body })}\n`);
    });
  }
}

function hexOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

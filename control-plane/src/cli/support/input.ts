import { readFileSync } from 'node:fs';
import { UsageError } from '../command.ts';

/** A JSON document from a file, or from standard input for '-'. */
export function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // The parser's own message quotes the text around the fault, which may be key material.
    throw new UsageError(`${path} is not valid JSON`);
  }
}

/** A key given as hex, or as @FILE holding the hex (so it need not appear in the process list). */
export function keyArgument(value: string, option: string): string {
  let hex = value;
  if (value.startsWith('@')) {
    try {
      hex = readFileSync(value.slice(1), 'utf8').trim();
    } catch (error) {
      throw new UsageError(
        `--${option}: cannot read ${value.slice(1)}: ${(error as NodeJS.ErrnoException).code}`,
      );
    }
  }
  hex = hex.replace(/^0x/i, '');
  if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new UsageError(`--${option}: expected hex digits or @FILE`);
  return hex.toLowerCase();
}

/** Decimal or 0x-prefixed hex. */
export function integerArgument(value: string, option: string, max = 0xffff_ffff): number {
  const n = /^0x[0-9a-f]+$/i.test(value)
    ? Number.parseInt(value.slice(2), 16)
    : /^\d+$/.test(value)
      ? Number(value)
      : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0 || n > max)
    throw new UsageError(`--${option}: expected an integer 0..${max}`);
  return n;
}

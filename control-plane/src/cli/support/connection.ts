import { readFileSync } from 'node:fs';
import { ApiRequestError, EspressoClient } from '@espresso/api';
import { type ParsedArgs, stringOption } from '../command.ts';

/** The options every command that talks to a server takes. */
export const connectionOptions = {
  server: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  json: { type: 'boolean' },
} as const;

export const connectionUsage = [
  'Connection:',
  '  --server URL        the server (default $ESPRESSO_SERVER or http://127.0.0.1:8470)',
  '  --token TOKEN       bearer token (default $ESPRESSO_API_TOKEN)',
  '  --token-file FILE   read the bearer token from FILE (its first line)',
  '  --json              print JSON instead of tables',
].join('\n');

export function serverUrl(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): string {
  return stringOption(args, 'server') ?? env.ESPRESSO_SERVER ?? 'http://127.0.0.1:8470';
}

function token(args: ParsedArgs, env: NodeJS.ProcessEnv): string | undefined {
  const file = stringOption(args, 'token-file');
  if (file !== undefined) return readFileSync(file, 'utf8').split('\n')[0]?.trim();
  return stringOption(args, 'token') ?? env.ESPRESSO_API_TOKEN;
}

/**
 * Runs `task` with a client of the server the arguments name, and turns what goes wrong into one line:
 * the server's problem detail, or why the server could not be reached.
 */
export async function withClient<T>(
  args: ParsedArgs,
  task: (client: EspressoClient) => Promise<T>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<T> {
  const url = serverUrl(args, env);
  let client: EspressoClient;
  try {
    const bearer = token(args, env);
    client = new EspressoClient({ url, ...(bearer === undefined ? {} : { token: bearer }), connections: 2 });
  } catch (error) {
    throw new Error(`--server: ${(error as Error).message}`);
  }
  try {
    return await task(client);
  } catch (error) {
    if (error instanceof ApiRequestError) throw new Error(`${error.status}: ${error.message}`);
    const code = (error as { code?: string }).code;
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'UND_ERR_CONNECT_TIMEOUT') {
      throw new Error(`cannot reach the server at ${url} (${code})`);
    }
    throw error;
  } finally {
    await client.close();
  }
}

export function isJson(args: ParsedArgs): boolean {
  return args.values.json === true;
}

export function printJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

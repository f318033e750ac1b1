/** One thing wrong with a configuration: a JSON pointer to the field, and why. Never quotes a value. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

export type ConfigFileErrorCode = 'unreadable' | 'bad-json' | 'invalid';

/**
 * A configuration file refused before anything was done with it: it could not be read, is not JSON, or
 * has fields at fault (`issues`, every one found). Messages name the file and the paths, never a value,
 * so key material cannot reach a terminal or a log.
 */
export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
  readonly code: ConfigFileErrorCode;
  readonly file: string;
  readonly issues: readonly ConfigIssue[];

  constructor(code: ConfigFileErrorCode, file: string, detail: string, issues: readonly ConfigIssue[] = []) {
    super(`${file}: ${detail}`);
    this.code = code;
    this.file = file;
    this.issues = issues;
  }

  static invalid(file: string, issues: readonly ConfigIssue[]): ConfigFileError {
    const first = issues[0];
    const head = first === undefined ? 'invalid configuration' : `${first.path || '/'}: ${first.message}`;
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    return new ConfigFileError('invalid', file, `${head}${more}`, issues);
  }

  /** One line per issue, `file: /path: reason`; for the read and parse errors, the message. */
  lines(): string[] {
    if (this.issues.length === 0) return [this.message];
    return this.issues.map((i) => `${this.file}: ${i.path || '/'}: ${i.message}`);
  }
}

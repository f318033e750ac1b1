/** One thing wrong with a configuration: a JSON pointer to the field and why. Never carries the value. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

export const SaConfigErrorCode = 'ERR_ESP_SA_CONFIG' as const;

/** A configuration refused as a whole; `issues` lists every field at fault. Key material is never quoted. */
export class SaConfigError extends Error {
  readonly code = SaConfigErrorCode;
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(`invalid SA configuration: ${issues.map((i) => `${i.path || '/'}: ${i.message}`).join('; ')}`);
    this.name = 'SaConfigError';
    this.issues = issues;
  }
}

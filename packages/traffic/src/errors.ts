/** A bad traffic option: `field` names the option (`--bytes`, `--flows`, ...). */
export class TrafficOptionError extends Error {
  readonly code = 'ERR_TRAFFIC_OPTION';
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'TrafficOptionError';
    this.field = field;
  }
}

/** What a scenario hands to the report writers: plain data, also the JSON written to perf/results/. */

export interface ReportTable {
  readonly title: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

export interface BarSeries {
  readonly name: string;
  /** One value per category. */
  readonly values: readonly number[];
}

/** Grouped bars: one group per category, one bar per series; an optional horizontal reference line. */
export interface BarChart {
  readonly kind: 'bar';
  /** File name stem: letters, digits and dashes. */
  readonly id: string;
  readonly title: string;
  readonly yLabel: string;
  readonly categories: readonly string[];
  readonly series: readonly BarSeries[];
  readonly reference?: { readonly label: string; readonly value: number };
}

export interface LineSeries {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface LineChart {
  readonly kind: 'line';
  readonly id: string;
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly LineSeries[];
  /** Draw x on a base-2 logarithmic axis (batch budgets, worker counts). */
  readonly logX?: boolean;
}

export type Chart = BarChart | LineChart;

export interface TargetResult {
  readonly name: string;
  /** The measured ratio and the ratio required. */
  readonly measured: number;
  readonly required: number;
  readonly pass: boolean;
  /** How the ratio was formed, with the figures it came from. */
  readonly detail: string;
  /** Set when the run cannot say either way (the reference itself did not behave), with why. */
  readonly inconclusive?: string;
}

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly node: string;
  readonly nodeOpenssl: string;
  readonly opensslCli: string;
  /** 1-minute load average when the run started, and when it ended. */
  readonly loadStart: number;
  readonly loadEnd: number;
}

export interface ScenarioReport {
  readonly scenario: string;
  readonly title: string;
  readonly description: string;
  /** The command line that reproduces the run. */
  readonly command: string;
  readonly startedAt: string;
  readonly machine: MachineInfo;
  readonly options: Readonly<Record<string, string | number | boolean>>;
  readonly tables: readonly ReportTable[];
  readonly charts: readonly Chart[];
  readonly targets: readonly TargetResult[];
  readonly notes: readonly string[];
  /** Figures the tables were made from, for tools that read the JSON. */
  readonly data: Readonly<Record<string, unknown>>;
}

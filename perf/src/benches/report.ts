import { existsSync, readFileSync } from 'node:fs';
import { composeReport, readReports } from '../report/compose-report.ts';
import { RESULTS_DIR } from '../report/write-report.ts';

const usage = `Usage: npm run bench -- report

Rebuilds perf/REPORT.md from the latest run of each scenario in perf/results/ (encrypt, decrypt, both,
scaling, budget, idle, qos-reorder, postmessage) and copies their charts to perf/report-assets/.
`;

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(usage);
} else {
  const perf = new URL('../../', import.meta.url).pathname;
  const findings = new URL('../report/report-findings.md', import.meta.url);
  const reports = readReports(RESULTS_DIR);
  if (reports.length === 0) {
    process.stderr.write(`report: no scenario results in ${RESULTS_DIR}; run the scenarios first\n`);
    process.exitCode = 1;
  } else {
    composeReport(reports, {
      resultsDir: RESULTS_DIR,
      reportPath: `${perf}REPORT.md`,
      assetsDir: `${perf}report-assets`,
      preface: readFileSync(new URL('../report/report-preface.md', import.meta.url), 'utf8'),
      ...(existsSync(findings) ? { findings: readFileSync(findings, 'utf8') } : {}),
    });
    process.stdout.write(`report: ${reports.map((r) => r.scenario).join(', ')} -> ${perf}REPORT.md\n`);
  }
}

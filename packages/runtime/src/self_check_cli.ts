#!/usr/bin/env node
/** `artist-runtime-check`: prints the chosen backend and a checkpoint round trip. */
import { describeRuntime } from './backend';
import { runSelfCheck } from './self_check';

async function main(): Promise<void> {
  // tfjs advertises tfjs-node on the cpu backend; our report below says what was chosen and why.
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('looks like you are running TensorFlow.js'))
      return;
    warn(...args);
  };
  const backendArg = process.argv.find((a) => a.startsWith('--backend='));
  const report = await runSelfCheck(backendArg ? { backend: backendArg.slice(10) as 'cpu' } : {});
  console.log(`artist-ts runtime: ${describeRuntime(report.runtime)}`);
  for (const s of report.runtime.skipped) console.log(`  skipped ${s.backend}: ${s.reason}`);
  console.log(
    `train ${report.steps} steps: loss ${report.lossBefore.toFixed(4)} -> ${report.lossAfter.toFixed(4)}`,
  );
  console.log(`checkpoint: ${report.checkpointDir}`);
  console.log(
    `round trip: max |dw| = ${report.weightMaxAbsDiff}, resumed step loss ${report.resumeLossReloaded} vs uninterrupted ${report.resumeLossOriginal}`,
  );
  console.log(`self-check ${report.ok ? 'OK' : 'FAILED'} in ${report.seconds.toFixed(1)} s`);
  if (!report.ok) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});

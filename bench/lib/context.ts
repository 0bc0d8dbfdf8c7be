import type { BenchNet } from './net.js';
import type { BenchResult } from './result.js';
import type { Scale } from './scale.js';

export interface BenchContext {
  net: BenchNet;
  /** A scratch directory for this benchmark (configs, logs, files). */
  work: string;
  scale: Scale;
  log: (line: string) => void;
  /** This run's results file (bench/results/<date>.json); a benchmark may write files beside it. */
  resultsFile: string;
}

export interface Benchmark {
  name: string;
  /** Whether the two namespaces are needed (the initrd benchmark is local). */
  network: boolean;
  run(ctx: BenchContext): Promise<BenchResult[]>;
}

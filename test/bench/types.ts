/** One figure printed by `npm run bench`. Figures are reported, never asserted: no timed assertions in tests. */
export interface BenchLine {
  /** e.g. "startup: groundwork --version" */
  name: string;
  value: number;
  unit: string;
  /** A baseline measured in the same run, and the ratio value/baseline. */
  baseline?: { name: string; value: number };
  /** The goal as text, e.g. "<= 1.5x" or "< 3 s", and whether this run met it. */
  goal?: string;
  met?: boolean;
  note?: string;
}

export type Bench = () => Promise<BenchLine[]>;

/** Side-by-side measurement: alternate the two variants for several rounds and compare medians. */

/** One timed run: returns how many operations it did and how long it took (ms). */
export type Run = () => Promise<{ ops: number; ms: number }>;

/** The result of comparing a candidate with its baseline. */
export interface Comparison {
  name: string;
  baselineName: string;
  candidateName: string;
  /** Median µs per operation. */
  baselineUs: number;
  candidateUs: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** Runs baseline and candidate alternately (`rounds` each, after one warm-up each) and returns median µs/op. */
export async function compare(name: string, baseline: [string, Run], candidate: [string, Run], rounds = 9): Promise<Comparison> {
  await baseline[1]();
  await candidate[1]();
  const b: number[] = [];
  const c: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const rb = await baseline[1]();
    b.push((rb.ms * 1000) / rb.ops);
    const rc = await candidate[1]();
    c.push((rc.ms * 1000) / rc.ops);
  }
  return { name, baselineName: baseline[0], candidateName: candidate[0], baselineUs: median(b), candidateUs: median(c) };
}

/** Milliseconds since an arbitrary origin, high resolution. */
export const now = (): number => performance.now();

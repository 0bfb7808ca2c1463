/**
 * The simulator's seeded random numbers: xoshiro128** 1.1 (Blackman and Vigna, 2018), a small,
 * well-studied 32-bit generator, with its 128-bit state filled from the seed by SplitMix64 as its
 * authors recommend. One generator per replay drives the pod shuffle, the workload sampling, the
 * node order and the policies' random choices, in that order, so a (seed, policy) pair always
 * replays identically.
 *
 * The published simulator uses Go's math/rand; its sequence is not reproduced, so per-seed
 * results differ from the published per-seed results while the distribution over seeds is the
 * same (see docs/simulator-method.md).
 *
 * Pure: no I/O.
 */

export interface Random {
  /** Uniform in [0, 1), with 32 random bits. */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

const MASK64 = (1n << 64n) - 1n;

function splitMix64(seed: bigint): () => bigint {
  let state = BigInt.asUintN(64, seed);
  return () => {
    state = (state + 0x9e3779b97f4a7c15n) & MASK64;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    return z ^ (z >> 31n);
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The SplitMix64 sequence from `seed` (exported for known-answer tests). */
export function splitMix64Sequence(seed: bigint, count: number): bigint[] {
  const next = splitMix64(seed);
  return Array.from({ length: count }, next);
}

/** A raw xoshiro128** generator of 32-bit outputs from a 128-bit state (four 32-bit words). */
export function xoshiro128ss(state: readonly [number, number, number, number]): () => number {
  let [s0, s1, s2, s3] = state.map((w) => w | 0) as [number, number, number, number];
  return (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };
}

/** A xoshiro128** generator seeded with `seed` (any safe integer) through SplitMix64. */
export function seededRandom(seed: number): Random {
  if (!Number.isSafeInteger(seed)) throw new Error(`seed ${seed} is not a whole number`);
  const [a = 0n, b = 0n] = splitMix64Sequence(BigInt(seed), 2);
  const nextUint32 = xoshiro128ss([
    Number(a & 0xffffffffn),
    Number(a >> 32n),
    Number(b & 0xffffffffn),
    Number(b >> 32n),
  ]);
  const next = (): number => nextUint32() / 2 ** 32;
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
  };
}

/** Fisher–Yates shuffle in place (every order equally likely). */
export function shuffle<T>(items: T[], random: Random): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const a = items[i] as T;
    items[i] = items[j] as T;
    items[j] = a;
  }
}

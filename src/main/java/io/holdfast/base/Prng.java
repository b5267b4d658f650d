package io.holdfast.base;

/**
 * Deterministic pseudo-random numbers (SplitMix64). Every source of randomness in the core and the
 * simulator is one of these, seeded by its owner, so one seed replays a whole history.
 *
 * <p>Not thread-safe: each owner has its own instance. Derive child generators with {@link #fork()}
 * rather than sharing one, so that adding a draw in one component does not shift another's sequence.
 */
public final class Prng {
  private long state;

  private Prng(long seed) {
    this.state = seed;
  }

  public static Prng of(long seed) {
    return new Prng(seed);
  }

  /** A new generator whose sequence is independent of this one's later draws. */
  public Prng fork() {
    return new Prng(nextLong());
  }

  public long nextLong() {
    long z = (state += 0x9E3779B97F4A7C15L);
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** Uniform in [0, bound). */
  public int nextInt(int bound) {
    if (bound <= 0) {
      throw new IllegalArgumentException("bound must be positive: " + bound);
    }
    return (int) Long.remainderUnsigned(nextLong(), bound);
  }

  /** Uniform in [0, bound). */
  public long nextLong(long bound) {
    if (bound <= 0) {
      throw new IllegalArgumentException("bound must be positive: " + bound);
    }
    return Long.remainderUnsigned(nextLong(), bound);
  }

  /** Fisher–Yates, in place. */
  public <T> void shuffle(java.util.List<T> list) {
    for (int i = list.size() - 1; i > 0; i--) {
      java.util.Collections.swap(list, i, nextInt(i + 1));
    }
  }

  /** Uniform in [min, max], both inclusive. */
  public int between(int min, int max) {
    if (max < min) {
      throw new IllegalArgumentException("max < min: " + max + " < " + min);
    }
    return min + nextInt(max - min + 1);
  }

  /** Uniform in [0, 1). */
  public double nextDouble() {
    return (nextLong() >>> 11) * 0x1.0p-53;
  }

  /** True with the given probability. */
  public boolean chance(double probability) {
    return nextDouble() < probability;
  }
}

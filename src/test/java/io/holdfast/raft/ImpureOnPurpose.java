package io.holdfast.raft;

/** Breaks the purity rules on purpose, so ArchitectureTest can show its rules fire. Never used. */
final class ImpureOnPurpose {
  private ImpureOnPurpose() {}

  static long readsTheClock() {
    return System.nanoTime() + new java.util.Random().nextInt() + java.util.concurrent.ThreadLocalRandom.current().nextInt();
  }
}

package io.holdfast.torture;

/** {@code pause}: SIGSTOP of the stream's leader or of a random node for 2–6 s, then SIGCONT. */
final class PauseFault implements Fault {
  @Override
  public String name() {
    return "pause";
  }

  @Override
  public String inject(Campaign c) throws Exception {
    int victim = c.prng.nextInt(2) == 0 ? c.leaderOrAny() : c.randomLiveNode();
    c.cluster.signal(victim, "STOP");
    Campaign.sleepMillis(c.prng.between(2000, 6000));
    c.cluster.signal(victim, "CONT");
    return "pause node " + victim;
  }
}

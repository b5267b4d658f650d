package io.holdfast.torture;

import java.util.List;

/** {@code kill}: SIGKILL of the stream's leader or of a random node, restarted 0.5–3 s later. */
final class KillFault implements Fault {
  @Override
  public String name() {
    return "kill";
  }

  @Override
  public String inject(Campaign c) throws Exception {
    int victim = c.prng.nextInt(2) == 0 ? c.leaderOrAny() : c.randomLiveNode();
    c.cluster.kill(victim);
    c.down.add(victim);
    Campaign.sleepMillis(c.prng.between(500, 3000));
    c.restart(List.of(victim), false);
    return "kill node " + victim;
  }
}

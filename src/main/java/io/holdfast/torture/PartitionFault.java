package io.holdfast.torture;

import java.util.ArrayList;
import java.util.List;

/** {@code partition}: one node, or a minority, cut off from the rest for 3–7 s ({@link Network}). */
final class PartitionFault implements Fault {
  @Override
  public String name() {
    return "partition";
  }

  @Override
  public String inject(Campaign c) throws Exception {
    int minority = (c.cluster.nodes.size() - 1) / 2;
    List<Integer> ids = new ArrayList<>(c.live());
    c.prng.shuffle(ids);
    List<Integer> side = new ArrayList<>(ids.subList(0, c.prng.nextInt(2) == 0 ? 1 : Math.max(1, minority)));
    Network.isolate(c.cluster, side);
    Campaign.sleepMillis(c.prng.between(3000, 7000));
    Network.heal();
    return "partition " + side + " from the rest";
  }
}

package io.holdfast.torture;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code split-brain}: a node paused (it misses the writes that follow), another power-lost, then
 * the nodes holding every write partitioned away while the paused one resumes — so that the two
 * could form a majority without the node that has every write.
 */
final class SplitBrainFault implements Fault {
  @Override
  public String name() {
    return "split-brain";
  }

  @Override
  public String inject(Campaign c) throws Exception {
    List<Integer> live = c.live();
    if (live.size() < c.cluster.nodes.size()) {
      return null; // the schedule needs every node
    }
    List<Integer> ids = new ArrayList<>(live);
    c.prng.shuffle(ids);
    int paused = ids.get(0);
    int powerLost = ids.get(1);
    List<Integer> full = new ArrayList<>(ids.subList(2, ids.size()));
    c.cluster.signal(paused, "STOP"); // misses the writes that follow
    Campaign.sleepMillis(c.prng.between(1500, 3000));
    c.cluster.kill(powerLost);
    c.down.add(powerLost);
    long cut = PowerLoss.cutUnsynced(c.dataDir(powerLost));
    Network.isolate(c.cluster, full); // the nodes holding every write are cut off ...
    c.cluster.signal(paused, "CONT"); // ... while the paused node and the power-lost one could form a majority
    c.restart(List.of(powerLost), false);
    Campaign.sleepMillis(c.prng.between(3000, 6000));
    Network.heal();
    return "split-brain: node " + paused + " paused, node " + powerLost + " power-lost (" + cut
        + " bytes), then " + full + " partitioned away";
  }
}

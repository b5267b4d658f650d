package io.holdfast.torture;

import java.util.List;

/**
 * {@code membership}, D9 under load: removes a replica (the stream shrunk by one; the meta group
 * picks the node), wipes that node's data directory and starts it again. It registers its new
 * disk with {@code holdfast.node.rejoin} on, so its meta replica comes back as a new member under
 * a new id; then the stream is grown back and its replica there joins the same way. Every other
 * time the removal is skipped: the node is wiped while it holds the replica, and its return alone
 * replaces the replica by a new member. Like damage, a wipe lands only while every other node is
 * whole, and the fault ends once the new replica has caught up, so that no later damage meets a
 * majority without the data.
 */
final class MembershipFault implements Fault {
  @Override
  public String name() {
    return "membership";
  }

  @Override
  public String inject(Campaign c) throws Exception {
    List<Integer> live = c.live();
    if (!c.refused.isEmpty() || !c.down.isEmpty()
        || live.stream().anyMatch(id -> c.cluster.pid(id).isEmpty() || !c.recovered(id))) {
      return null;
    }
    int replicas = c.replicas;
    List<Integer> before = c.placement(live);
    boolean remove = replicas > 1 && c.prng.nextInt(2) == 0;
    int victim;
    StringBuilder what = new StringBuilder("membership: ");
    if (remove) {
      c.setReplicas(live, replicas - 1);
      List<Integer> after = c.placement(live);
      victim = before.stream().filter(id -> !after.contains(id)).findFirst().orElse(before.get(before.size() - 1));
      what.append("replica on node ").append(victim).append(" removed (R").append(replicas).append(" -> R")
          .append(replicas - 1).append("), ");
    } else {
      victim = before.get(c.prng.nextInt(before.size()));
    }
    c.cluster.kill(victim);
    c.wipeAndRestart(victim);
    what.append("node ").append(victim).append(" wiped and back as a new member (generation ")
        .append(c.generation(live, victim)).append(")");
    if (remove) {
      c.setReplicas(live, replicas);
      what.append(", stream grown back to R").append(replicas).append(" on ").append(c.placement(live));
    }
    what.append(c.awaitCaughtUp(victim) ? "; caught up" : "; NOT caught up within 90 s");
    return what.toString();
  }
}

package io.holdfast.meta;

/**
 * Raft replica ids on server nodes (D9). A replica's id is its node id plus {@link #STRIDE} times
 * how many times that node joined the group anew: {@code 3} for node 3's first replica, {@code 1003}
 * after node 3 was removed and placed again, or came back with a wiped disk. A replica that comes
 * back as a new member therefore never answers under an id whose old votes and acks the group
 * remembers; messages still addressed to the old id are dropped by the new replica (RaftCore only
 * takes messages addressed to itself). Routing strips the join count: {@link #node}.
 *
 * <p>Node ids therefore stay below {@link #STRIDE} (NodeSettings checks).
 */
public final class ReplicaIds {
  public static final int STRIDE = 1000;

  private ReplicaIds() {}

  /** The replica id of {@code node}'s {@code join}-th replica in a group (0: it was there from the start). */
  public static int of(int node, int join) {
    return node + STRIDE * join;
  }

  /** The node that hosts replica {@code replicaId}; a node id is its own node. */
  public static int node(int replicaId) {
    return replicaId % STRIDE;
  }

  /** Where a group keeps {@code node}'s log for its {@code join}-th replica: a new member never meets an older log. */
  public static String storageName(String group, int join) {
    return join == 0 ? group : group + "~" + join;
  }

  /** The join count in a storage name made by {@link #storageName}, or -1 if it is not one of {@code group}'s. */
  public static int joinOf(String storageName, String group) {
    if (storageName.equals(group)) {
      return 0;
    }
    if (!storageName.startsWith(group + "~")) {
      return -1;
    }
    try {
      int join = Integer.parseInt(storageName.substring(group.length() + 1));
      return join > 0 ? join : -1;
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}

package io.holdfast.torture;

import io.holdfast.local.LocalCluster;
import io.holdfast.local.TcpRetransmission;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Partitions with iptables, in a chain of our own ({@value #CHAIN}) jumped to from INPUT: a rule
 * drops packets from one node's address to another's. Each node binds its own loopback address
 * and connects from it, so these rules cut exactly the links between nodes; clients (from
 * 127.0.0.1) still reach every node, as in Jepsen's tests. Needs root and iptables.
 */
public final class Network {
  static final String CHAIN = "HOLDFAST-TORTURE";

  /** The sides cut off by {@link #isolate} since the last {@link #heal}: what {@link Availability} reads. */
  private static final List<Set<Integer>> SIDES = new CopyOnWriteArrayList<>();

  private Network() {}

  /** The most of {@code nodes} that can all reach each other under the partitions in force. */
  static int largestConnected(List<Integer> nodes) {
    Map<List<Boolean>, Integer> groups = new HashMap<>();
    for (int n : nodes) {
      List<Boolean> key = new ArrayList<>();
      for (Set<Integer> side : SIDES) {
        key.add(side.contains(n));
      }
      groups.merge(key, 1, Integer::sum);
    }
    return groups.values().stream().mapToInt(Integer::intValue).max().orElse(0);
  }

  /** Why partitions cannot be made here (no root, no iptables), or null if they can. */
  public static String unavailable() {
    try {
      return exec(false, "iptables", "-L", "INPUT", "-n") == 0 ? null
          : "partitions need root and iptables (apt-get install iptables); run as root, or leave out partition and"
              + " split-brain with --faults";
    } catch (IOException e) {
      return "partitions need iptables, which is not installed (apt-get install iptables)";
    }
  }

  /** The retransmission cap before {@link #setUp} lowered it, to restore; -1 if it did not. Guarded by the class. */
  private static int rtoMaxBefore = -1;

  /**
   * Sets up the chain, and caps TCP's retransmission timeout at
   * {@value TcpRetransmission#RECOMMENDED_MS} ms for the run if the kernel has the setting and it
   * is higher (restored by {@link #tearDown}, or at exit): without it a healed partition stays an
   * outage for seconds that no node can shorten ({@link TcpRetransmission} says why), and the run
   * measures nodes set up as the README recommends. Returns what it did, for the run's log (null:
   * nothing).
   */
  static String setUp() throws IOException {
    exec(false, "iptables", "-N", CHAIN); // exists already after an interrupted run: fine
    exec(true, "iptables", "-F", CHAIN);
    if (exec(false, "iptables", "-C", "INPUT", "-j", CHAIN) != 0) {
      exec(true, "iptables", "-I", "INPUT", "-j", CHAIN);
    }
    Integer before = TcpRetransmission.rtoMaxMillis();
    if (before == null || before <= TcpRetransmission.RECOMMENDED_MS) {
      return null;
    }
    synchronized (Network.class) {
      TcpRetransmission.setRtoMaxMillis(TcpRetransmission.RECOMMENDED_MS);
      rtoMaxBefore = before;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(Network::restoreRtoMax, "torture-restore-rto-max"));
    return "TCP retransmission timeout capped at " + TcpRetransmission.RECOMMENDED_MS
        + " ms for this run (net.ipv4.tcp_rto_max_ms was " + before + "; README, \"Partitions and TCP retransmission\")";
  }

  /** Puts back the retransmission cap {@link #setUp} lowered, once (also from a shutdown hook: an interrupted run). */
  private static synchronized void restoreRtoMax() {
    if (rtoMaxBefore > 0) {
      try {
        TcpRetransmission.setRtoMaxMillis(rtoMaxBefore);
      } catch (IOException e) {
        System.err.println("torture: could not restore net.ipv4.tcp_rto_max_ms to " + rtoMaxBefore + ": "
            + e.getMessage());
      }
      rtoMaxBefore = -1;
    }
  }

  /** Cuts every link between the nodes in {@code side} and the others. */
  static void isolate(LocalCluster cluster, List<Integer> side) throws IOException {
    SIDES.add(Set.copyOf(side));
    for (LocalCluster.Node a : cluster.nodes) {
      for (LocalCluster.Node b : cluster.nodes) {
        if (side.contains(a.id()) && !side.contains(b.id())) {
          exec(true, "iptables", "-A", CHAIN, "-s", a.host(), "-d", b.host(), "-j", "DROP");
          exec(true, "iptables", "-A", CHAIN, "-s", b.host(), "-d", a.host(), "-j", "DROP");
        }
      }
    }
  }

  static void heal() throws IOException {
    exec(false, "iptables", "-F", CHAIN);
    SIDES.clear();
  }

  static void tearDown() {
    try {
      exec(false, "iptables", "-F", CHAIN);
      SIDES.clear();
      exec(false, "iptables", "-D", "INPUT", "-j", CHAIN);
      exec(false, "iptables", "-X", CHAIN);
    } catch (IOException e) {
      System.err.println("torture: could not remove iptables chain " + CHAIN + ": " + e.getMessage());
    }
    restoreRtoMax();
  }

  private static int exec(boolean mustSucceed, String... cmd) throws IOException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    try {
      String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      int code = p.waitFor();
      if (mustSucceed && code != 0) {
        throw new IOException(String.join(" ", cmd) + " failed (" + code + "): " + output.strip());
      }
      return code;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }
}

package io.holdfast.local;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Linux's cap on a TCP connection's retransmission timeout, {@code net.ipv4.tcp_rto_max_ms}
 * (kernel 6.15 and later; 120 s by default), read from this network namespace.
 *
 * <p>Why a node cares: a partition that drops packets leaves the nodes' connections retransmitting
 * with a timeout that doubles each time, up to this cap. Nothing is sent on a connection until its
 * next retransmission, so after the partition heals the nodes stay cut off for up to the cap:
 * measured here, 13 s after a 14 s partition (backoff 6, RTO 13 s), during which the healed node
 * answered every publish {@code unavailable}; with the cap at {@value #RECOMMENDED_MS} ms it
 * served 4 s after the heal, its ActorSystem restart included. Pekko's transport offers no way to
 * drop such a connection and dial again short of quarantining the peer, so the cap is a setting
 * of the node's host (README, "Partitions and TCP retransmission").
 */
public final class TcpRetransmission {
  private static final Path RTO_MAX = Path.of("/proc/sys/net/ipv4/tcp_rto_max_ms");
  /** What the README recommends for nodes, and what {@code torture} sets for a run with partitions. */
  public static final int RECOMMENDED_MS = 1000;

  private TcpRetransmission() {}

  /** The cap in milliseconds, or null if the kernel has no such setting (before Linux 6.15) or it cannot be read. */
  public static Integer rtoMaxMillis() {
    // Read as a stream: Files.readString trusts the size procfs reports (0) and returned "1" for "120000".
    try (InputStream in = Files.newInputStream(RTO_MAX)) {
      return Integer.parseInt(new String(in.readAllBytes(), StandardCharsets.US_ASCII).trim());
    } catch (IOException | NumberFormatException e) {
      return null;
    }
  }

  /** Sets the cap (needs root); new connections take it. */
  public static void setRtoMaxMillis(int millis) throws IOException {
    Files.writeString(RTO_MAX, millis + "\n");
  }

  /** A note for a starting node if this host's cap is far above the recommended one; null if not (or no such setting). */
  public static String nodeNote() {
    return nodeNote(rtoMaxMillis());
  }

  static String nodeNote(Integer cap) {
    if (cap == null || cap <= 5 * RECOMMENDED_MS) {
      return null;
    }
    return "net.ipv4.tcp_rto_max_ms is " + cap + ": after a network partition heals, this node may reach its peers"
        + " only up to " + (cap / 1000) + " s later (TCP retransmission backoff); " + RECOMMENDED_MS
        + " is recommended (README, \"Partitions and TCP retransmission\")";
  }
}

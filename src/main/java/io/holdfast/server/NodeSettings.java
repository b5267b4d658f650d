package io.holdfast.server;

import com.typesafe.config.Config;
import io.holdfast.meta.ReplicaIds;
import io.holdfast.raft.RaftSettings;
import java.time.Duration;
import java.util.List;

/**
 * A node's Holdfast settings ({@code holdfast.*}, documented in conf/holdfast.conf), validated at
 * start-up so that a bad value stops the node with a clear message instead of surprising later.
 *
 * @param nodeId this server node's id (1..), or 0 on an application node that only uses Holdfast
 */
public record NodeSettings(int nodeId, String dataDir, boolean rejoin, List<Integer> metaVoters, Duration tick,
    RaftSettings raft, Duration requestTimeout, Duration metaPollInterval, boolean httpEnabled, String httpHost, int httpPort,
    long compactAfterBytes, long snapshotBytesMax) {

  /** The cluster role every server node has; application nodes lack it and reach streams through proxies. */
  public static final String SERVER_ROLE = "holdfast";

  /** The cluster role that names server node {@code id}: how nodes find each other's addresses. */
  public static String nodeRole(int id) {
    return "holdfast-node-" + id;
  }

  public boolean server() {
    return nodeId > 0;
  }

  public static NodeSettings fromConfig(Config config) {
    Config h = config.getConfig("holdfast");
    int id = h.getInt("node.id");
    require(id >= 0 && id < ReplicaIds.STRIDE, "holdfast.node.id must be 0 (application node) or a server node id"
        + " from 1 to " + (ReplicaIds.STRIDE - 1) + ", got " + id);
    List<Integer> voters = h.getIntList("meta.voters");
    require(voters.size() == 1 || voters.size() == 3 || voters.size() == 5,
        "holdfast.meta.voters must list 1, 3 or 5 node ids, got " + voters);
    require(voters.stream().distinct().count() == voters.size()
        && voters.stream().allMatch(v -> v >= 1 && v < ReplicaIds.STRIDE),
        "holdfast.meta.voters must be distinct node ids from 1 to " + (ReplicaIds.STRIDE - 1) + ", got " + voters);
    Duration tick = h.getDuration("raft.tick");
    require(!tick.isNegative() && tick.toMillis() >= 1, "holdfast.raft.tick must be at least 1ms");
    int election = (int) (h.getDuration("raft.election-timeout").toMillis() / tick.toMillis());
    int heartbeat = (int) (h.getDuration("raft.heartbeat-interval").toMillis() / tick.toMillis());
    require(heartbeat >= 1 && election > 2 * heartbeat,
        "holdfast.raft.election-timeout must be more than twice heartbeat-interval, both at least one tick");
    RaftSettings raft = new RaftSettings(election, heartbeat, h.getInt("raft.inflight-appends-max"), 512,
        192 << 10, h.getInt("raft.uncommitted-entries-max"), 4096, true, true);
    Duration timeout = h.getDuration("client.request-timeout");
    require(timeout.toMillis() >= 100, "holdfast.client.request-timeout must be at least 100ms");
    Duration poll = h.getDuration("client.meta-poll-interval");
    require(poll.toMillis() >= 10, "holdfast.client.meta-poll-interval must be at least 10ms");
    int port = h.getInt("http.port");
    require(port >= 0 && port < 65536, "holdfast.http.port must be 0..65535, got " + port);
    long compactAfter = h.getBytes("raft.compact-after");
    long snapshotMax = h.getBytes("raft.snapshot-bytes-max");
    long largeFrame = config.getBytes("pekko.remote.artery.advanced.maximum-large-frame-size");
    require(compactAfter >= 1024, "holdfast.raft.compact-after must be at least 1 KiB");
    require(snapshotMax + (1 << 20) <= largeFrame, "holdfast.raft.snapshot-bytes-max (" + snapshotMax
        + ") must stay 1 MiB under pekko.remote.artery.advanced.maximum-large-frame-size (" + largeFrame + ")");
    return new NodeSettings(id, h.getString("node.data-dir"), h.getBoolean("node.rejoin"), List.copyOf(voters), tick,
        raft, timeout, poll, h.getBoolean("http.enabled"), h.getString("http.host"), port, compactAfter, snapshotMax);
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }
}

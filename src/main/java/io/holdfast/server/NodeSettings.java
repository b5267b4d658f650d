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
 * @param compactAfterBytes a replica snapshots once the entries applied since its last snapshot carry this many bytes
 * @param logMemoryMax log entries the node's replicas hold in memory together, about: each compacts
 *     after {@link #compactAfterBytes(int)}
 * @param store the layout of each stream replica's message store
 * @param followPublishersMinRate proposals per second that, coming in nearly all through one other
 *     member's node, move a stream's leader there (0: never; see ReplicaDriver#followPublishers)
 */
public record NodeSettings(int nodeId, String dataDir, boolean rejoin, List<Integer> metaVoters, Duration tick,
    RaftSettings raft, Duration requestTimeout, Duration metaPollInterval, boolean httpEnabled, String httpHost, int httpPort,
    long compactAfterBytes, long logMemoryMax, io.holdfast.storage.segment.SegmentStore.Options store,
    int followPublishersMinRate) {

  /** The cluster role every server node has; application nodes lack it and reach streams through proxies. */
  public static final String SERVER_ROLE = "holdfast";

  static final String NODE_ROLE_PREFIX = "holdfast-node-";

  /** The cluster role that names server node {@code id}: how nodes find each other's addresses. */
  public static String nodeRole(int id) {
    return NODE_ROLE_PREFIX + id;
  }

  public boolean server() {
    return nodeId > 0;
  }

  /** {@code holdfast.listen-backlog}: the listen(2) backlog of the node's NATS and HTTP listeners. */
  public static int listenBacklog(Config config) {
    int backlog = config.getInt("holdfast.listen-backlog");
    require(backlog >= 1 && backlog <= 65535, "holdfast.listen-backlog must be 1..65535, got " + backlog);
    return backlog;
  }

  public static NodeSettings fromConfig(Config config) {
    listenBacklog(config); // checked at start-up, with the rest
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
    RaftSettings raft = RaftSettings.defaults().withElectionTimeoutTicks(election).withHeartbeatIntervalTicks(heartbeat)
        .withInflightAppendsMax(h.getInt("raft.inflight-appends-max"))
        .withUncommittedEntriesMax(h.getInt("raft.uncommitted-entries-max"));
    Duration timeout = h.getDuration("client.request-timeout");
    require(timeout.toMillis() >= 100, "holdfast.client.request-timeout must be at least 100ms");
    Duration poll = h.getDuration("client.meta-poll-interval");
    require(poll.toMillis() >= 10, "holdfast.client.meta-poll-interval must be at least 10ms");
    int port = h.getInt("http.port");
    require(port >= 0 && port < 65536, "holdfast.http.port must be 0..65535, got " + port);
    long compactAfter = h.getBytes("raft.compact-after");
    require(compactAfter >= 1024, "holdfast.raft.compact-after must be at least 1 KiB");
    long logMemory = h.getBytes("raft.log-memory-max");
    require(logMemory >= compactAfter, "holdfast.raft.log-memory-max must be at least holdfast.raft.compact-after");
    long largeFrame = config.getBytes("pekko.remote.artery.advanced.maximum-large-frame-size");
    require(largeFrame >= 2 * io.holdfast.replica.ReplicaDriver.FETCH_RECORDS_BYTES,
        "pekko.remote.artery.advanced.maximum-large-frame-size must be at least 2 MiB: store records travel in 1 MiB chunks");
    io.holdfast.storage.segment.SegmentStore.Options store;
    try {
      store = new io.holdfast.storage.segment.SegmentStore.Options(h.getBytes("store.segment-bytes-max"),
          h.getInt("store.segment-records-max"));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("holdfast.store." + e.getMessage());
    }
    int follow = h.getInt("raft.follow-publishers-min-rate");
    require(follow >= 0, "holdfast.raft.follow-publishers-min-rate must be 0 (off) or more, got " + follow);
    return new NodeSettings(id, h.getString("node.data-dir"), h.getBoolean("node.rejoin"), List.copyOf(voters), tick,
        raft, timeout, poll, h.getBoolean("http.enabled"), h.getString("http.host"), port, compactAfter, logMemory,
        store, follow);
  }

  /**
   * {@link #followPublishersMinRate} as proposals per round of a replica's housekeeping (see
   * ReplicaDriver#followPublishers); 0: off.
   */
  public int followPublishersPerRound() {
    if (followPublishersMinRate == 0) {
      return 0;
    }
    long roundMillis = io.holdfast.replica.ReplicaDriver.HOUSEKEEPING_TICKS * tick.toMillis();
    return (int) Math.max(1, Math.min(Integer.MAX_VALUE, followPublishersMinRate * roundMillis / 1000));
  }

  /** Bytes after which each of {@code replicas} replicas on this node compacts: the memory budget shared, 64 KiB at least. */
  public long compactAfterBytes(int replicas) {
    return Math.max(64 << 10, Math.min(compactAfterBytes, logMemoryMax / Math.max(1, replicas)));
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }
}

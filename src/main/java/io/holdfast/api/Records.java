package io.holdfast.api;

import java.util.List;
import io.holdfast.stream.StreamLimits;
import java.util.SortedMap;

/** The Java API's plain records: configs and results, as the HTTP API shows them too. */
public final class Records {
  private Records() {}

  /**
   * A stream's configuration: its name, the subjects it captures (NATS wildcards), its replica
   * count, and its limits and flags ({@link StreamLimits#DEFAULT} unless given).
   */
  public record StreamConfig(String name, List<String> subjects, int replicas, StreamLimits limits) {
    public StreamConfig {
      subjects = subjects == null ? List.of() : List.copyOf(subjects);
      limits = limits == null ? StreamLimits.DEFAULT : limits;
    }

    public StreamConfig(String name, List<String> subjects, int replicas) {
      this(name, subjects, replicas, StreamLimits.DEFAULT);
    }
  }

  /** What a stream holds, as applied by its leader; {@code deleted}: holes between first and last. */
  public record StreamState(long messages, long bytes, long firstSeq, long lastSeq, long firstTimestampMillis,
      long lastTimestampMillis, long subjects, long deleted) {}

  /** Where a stream lives: its replica group, the nodes of its replicas, the current leader's node (0: none). */
  public record StreamCluster(String group, List<Integer> replicas, int leader) {}

  /** {@code state} is null when the stream's leader could not be asked in time. */
  public record StreamInfo(StreamConfig config, StreamState state, StreamCluster cluster) {}

  /**
   * A publish is durable on a majority of the stream's replicas and final at {@code seq};
   * {@code duplicate}: its msg id was seen within the duplicate window, {@code seq} is the original.
   */
  public record PubAck(String stream, long seq, boolean duplicate) {
    public PubAck(String stream, long seq) {
      this(stream, seq, false);
    }
  }

  /**
   * Publish options (JetStream's), carried as NATS headers: de-duplication by {@code msgId} within
   * the stream's duplicate window, and expectations that reject the publish when they do not hold.
   * Null fields are not set.
   */
  public record PublishOptions(String msgId, String expectedStream, Long expectedLastSeq, Long expectedLastSubjectSeq,
      String expectedLastMsgId) {
    public static final PublishOptions NONE = new PublishOptions(null, null, null, null, null);
  }

  /** A message to publish as part of {@link Holdfast#publishAtomic}. */
  public record Outgoing(String subject, SortedMap<String, List<String>> headers, byte[] payload) {
    public Outgoing {
      headers = headers == null ? new java.util.TreeMap<>() : headers;
      payload = payload == null ? new byte[0] : payload;
    }
  }

  /** A stored message. */
  public record StreamMessage(String stream, long seq, String subject, SortedMap<String, List<String>> headers,
      byte[] payload, long timestampMillis) {}

  /**
   * A server node as the meta group knows it, and whether it is a cluster member now.
   *
   * @param generation how many times it came back with a new disk (holdfast.node.rejoin)
   */
  public record NodeInfo(int id, String http, String incarnation, int generation, boolean up) {}

  /**
   * This node's view: its id (0 on an application node), its registration, the meta state's nodes
   * and streams; {@code stoppedReplicas}: groups whose replica here stopped without being told to
   * (down until the node restarts; see {@code StreamManager}).
   */
  public record ClusterStatus(int node, String registration, long metaIndex, int metaLeader, List<Integer> metaVoters,
      List<NodeInfo> nodes, List<String> members, List<String> stoppedReplicas) {}
}

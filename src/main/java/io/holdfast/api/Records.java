package io.holdfast.api;

import java.util.List;
import java.util.SortedMap;

/** The Java API's plain records: configs and results, as the HTTP API shows them too. */
public final class Records {
  private Records() {}

  /** A stream's configuration: its name, the subjects it captures (NATS wildcards), its replica count. */
  public record StreamConfig(String name, List<String> subjects, int replicas) {
    public StreamConfig {
      subjects = subjects == null ? List.of() : List.copyOf(subjects);
    }
  }

  /** What a stream holds, as applied by its leader. */
  public record StreamState(long messages, long bytes, long firstSeq, long lastSeq) {}

  /** Where a stream lives: its replica group, the nodes of its replicas, the current leader's node (0: none). */
  public record StreamCluster(String group, List<Integer> replicas, int leader) {}

  /** {@code state} is null when the stream's leader could not be asked in time. */
  public record StreamInfo(StreamConfig config, StreamState state, StreamCluster cluster) {}

  /** A publish is durable on a majority of the stream's replicas and final at {@code seq}. */
  public record PubAck(String stream, long seq) {}

  /** A stored message. */
  public record StreamMessage(String stream, long seq, String subject, SortedMap<String, List<String>> headers,
      byte[] payload, long timestampMillis) {}

  /** A server node as the meta group knows it, and whether it is a cluster member now. */
  public record NodeInfo(int id, String http, String incarnation, boolean up) {}

  /** This node's view: its id (0 on an application node), its registration, the meta state's nodes and streams. */
  public record ClusterStatus(int node, String registration, long metaIndex, int metaLeader, List<NodeInfo> nodes,
      List<String> members) {}
}

package io.holdfast.torture;

import com.fasterxml.jackson.databind.JsonNode;
import io.holdfast.local.LocalCluster;
import io.holdfast.local.NodeClient;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * {@code drain}: the operator's drain of one node ({@code holdfast cluster drain ID}, the same HTTP
 * call) under load — every stream replica moved off a random node that holds one, each stream
 * growing elsewhere before it shrinks — then a check that the stream kept its replica count on
 * other nodes, and the node undrained. Needs a node more than the stream has replicas; not in
 * {@code --faults all} (maintenance, not a fault).
 */
final class DrainFault implements Fault {
  @Override
  public String name() {
    return "drain";
  }

  @Override
  public String inject(Campaign c) throws Exception {
    if (!c.down.isEmpty()) {
      return null;
    }
    int node = c.randomLiveNode();
    LocalCluster.Node via = c.cluster.nodes.stream().filter(n -> n.id() != node).findFirst().orElseThrow();
    NodeClient client = c.cluster.client(via);
    JsonNode before = client.call("GET", "/streams/" + Campaign.STREAM, null);
    JsonNode report = client.call("POST", "/cluster/nodes/" + node + "/drain", null, Map.of(), Duration.ofMinutes(31));
    JsonNode after = client.call("GET", "/streams/" + Campaign.STREAM, null);
    int replicas = before.path("config").path("replicas").asInt();
    List<Integer> placement = new java.util.ArrayList<>();
    after.path("cluster").path("replicas").forEach(n -> placement.add(n.asInt()));
    if (placement.contains(node) || placement.size() != replicas
        || after.path("config").path("replicas").asInt() != replicas) {
      throw new IllegalStateException("after draining node " + node + " the stream is on " + placement
          + " with " + after.path("config").path("replicas") + " replicas, not " + replicas + " replicas elsewhere");
    }
    client.call("POST", "/cluster/nodes/" + node + "/undrain", null);
    return "drain node " + node + ": " + report.path("moved") + " moved, the stream now on " + placement;
  }
}

package io.holdfast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.holdfast.server.NodeSettings;
import java.io.File;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class NodeConfigTest {
  @Test
  void aSystemPropertyOverridesTheFileAndTheFileOverridesTheDefaults() {
    File file = new File("conf/node1.conf");
    System.setProperty("holdfast.raft.tick", "20ms");
    ConfigFactory.invalidateCaches();
    try {
      Config c = NodeCommand.load(file);
      assertEquals(Duration.ofMillis(20), c.getDuration("holdfast.raft.tick"));
      assertEquals(1, c.getInt("holdfast.node.id")); // from the file
      assertEquals(4096, c.getInt("holdfast.storage.batch-writes-max")); // a default
      assertEquals(java.util.List.of("holdfast", "holdfast-node-1"), c.getStringList("pekko.cluster.roles"));
    } finally {
      System.clearProperty("holdfast.raft.tick");
      ConfigFactory.invalidateCaches();
    }
    assertEquals(Duration.ofMillis(50), NodeCommand.load(file).getDuration("holdfast.raft.tick"));
  }

  @Test
  void theListenBacklogDefaultsTo1024AndAnImpossibleOneStopsTheNodeWithItsName() {
    Config c = NodeCommand.load(new File("conf/node1.conf"));
    assertEquals(1024, NodeSettings.listenBacklog(c));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NodeSettings.fromConfig(
        ConfigFactory.parseString("holdfast.listen-backlog = 0").withFallback(c)));
    assertTrue(e.getMessage().contains("holdfast.listen-backlog must be 1..65535, got 0"), e.getMessage());
  }
}

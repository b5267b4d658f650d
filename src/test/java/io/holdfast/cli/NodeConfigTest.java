package io.holdfast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
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
}

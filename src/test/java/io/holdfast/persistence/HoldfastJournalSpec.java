package io.holdfast.persistence;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.holdfast.api.Holdfast;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.persistence.CapabilityFlag;
import org.apache.pekko.persistence.japi.journal.JavaJournalSpec;

/**
 * Pekko's journal TCK against {@link HoldfastJournal}: the spec's own ActorSystem is an
 * application node of a 3-node in-JVM Holdfast cluster, and the journal stream has 3 replicas.
 * The cluster's nodes start in beforeAll (the TCK creates its system on first use, after them).
 */
public class HoldfastJournalSpec extends JavaJournalSpec {
  /** The clusters planned by spec constructors (which cannot keep them: super() comes first), by system name. */
  private static final Map<String, InJvmCluster> PLANNED = new ConcurrentHashMap<>();

  public HoldfastJournalSpec() {
    super(config("JournalSpec"));
  }

  /** Plans the cluster the spec's system (named by the TCK) will join, and configures the plugins. */
  static Config config(String systemName) {
    // The test engine may construct the spec more than once: one plan (and temporary directory) per name.
    InJvmCluster cluster = PLANNED.computeIfAbsent(systemName, InJvmCluster::plan);
    return ConfigFactory.parseString("""
        pekko.persistence.journal.plugin = "holdfast.persistence.journal"
        pekko.persistence.snapshot-store.plugin = "holdfast.persistence.snapshot-store"
        # the first request waits for the stream's creation and election on a busy 2-core machine
        pekko.test.single-expect-default = 15s
        """).withFallback(cluster.applicationNode());
  }

  /** Starts the planned cluster, then (through {@code startSystem}) the spec's system, and waits until it sees the cluster. */
  static void start(String systemName, java.util.function.Supplier<org.apache.pekko.actor.ActorSystem> startSystem) {
    PLANNED.get(systemName).start();
    org.apache.pekko.actor.ActorSystem system = startSystem.get();
    try {
      InJvmCluster.await(() -> Holdfast.get(Adapter.toTyped(system)).listStreams().toCompletableFuture().get() != null,
          "the application node sees the meta state", Duration.ofSeconds(60));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static void stop(String systemName) {
    InJvmCluster c = PLANNED.remove(systemName);
    if (c != null) {
      c.close();
    }
  }

  @Override
  public void beforeAll() {
    start("JournalSpec", () -> {
      super.beforeAll();
      return system();
    });
  }

  @Override
  public void afterAll() {
    super.afterAll();
    stop("JournalSpec");
  }

  @Override
  public CapabilityFlag supportsRejectingNonSerializableObjects() {
    return CapabilityFlag.on();
  }

  @Override
  public CapabilityFlag supportsSerialization() {
    return CapabilityFlag.on();
  }
}

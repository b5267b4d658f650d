package io.holdfast.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.api.Holdfast;
import io.holdfast.local.LocalCluster;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code holdfast bench persist}: {@code --entities} EventSourcedBehaviors on an application node
 * of an in-process cluster ({@code --replicas} server nodes, real files under ./target) persist
 * {@code --events} events of {@code --size} bytes in all, each entity one command at a time — as
 * fast as commands allow — through the journal plugin (each entity has recovered, empty, before
 * the clock starts). Then a new application node recovers every
 * entity and checks its event count. Baseline: the raw fsync rate of the same disk, measured in
 * the same run.
 */
@Command(name = "persist", sortOptions = false,
    description = "EventSourcedBehaviors persisting through the Holdfast journal plugin, then recovering.")
final class PersistBench extends CliCommand.Reporting {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Option(names = "--entities", paramLabel = "N", description = "Entities persisting at once (default ${DEFAULT-VALUE}).")
  int entities = 1000;
  @Option(names = "--events", paramLabel = "N", description = "Events in all, spread over the entities (default ${DEFAULT-VALUE}).")
  long events = 50_000;
  @Option(names = "--size", paramLabel = "B", description = "Bytes per event (default ${DEFAULT-VALUE}).")
  int size = 256;
  @Option(names = "--replicas", paramLabel = "1|3", description = "Replicas of the journal stream (default ${DEFAULT-VALUE}).")
  int replicas = 3;
  @Option(names = "--dir", paramLabel = "DIR", description = "Where the in-process nodes keep their data (default ${DEFAULT-VALUE}).")
  Path parent = Path.of("target");

  /** The bench's entity: its events are byte arrays (Pekko's own serializer), its state their count. */
  record Persist(ActorRef<Long> replyTo) {}

  static Behavior<Object> entity(String id, byte[] payload) {
    return new EventSourcedBehavior<Object, byte[], Long>(PersistenceId.of("Bench", id)) {
      @Override
      public Long emptyState() {
        return 0L;
      }

      @Override
      public CommandHandler<Object, byte[], Long> commandHandler() {
        return newCommandHandlerBuilder().forAnyState()
            .onCommand(Persist.class, (n, p) -> Effect().persist(payload).thenReply(p.replyTo(), after -> after))
            .onCommand(GetCount.class, (n, g) -> Effect().reply(g.replyTo(), n))
            .build();
      }

      @Override
      public EventHandler<Long, byte[]> eventHandler() {
        return newEventHandlerBuilder().forAnyState().onAnyEvent((n, e) -> n + 1);
      }
    };
  }

  record GetCount(ActorRef<Long> replyTo) {}

  @Override
  public Integer call() throws Exception {
    PrintStream out = out();
    PrintStream err = err();
    between("--entities", entities, 1, 100_000);
    between("--events", events, entities, 100_000_000);
    between("--size", size, 0, 100 << 10);
    between("--replicas", replicas, 1, 5);
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("entities", entities);
    r.put("events", events);
    r.put("size", size);
    r.put("replicas", replicas);
    Files.createDirectories(parent);
    Path base = Files.createTempDirectory(parent, "holdfast-bench-persist-");
    try {
      err.printf("bench persist: raw fsync rate of %s ...%n", base);
      double raw = JournalBench.rawFsync(base.resolve("raw-fsync.dat"), 2)[0];
      run(base, r, err);
      r.put("raw_fsync_per_s", Math.round(raw));
      r.put("ratio_vs_raw_fsync", Math.round(((Number) r.get("events_per_s")).doubleValue() / raw * 10) / 10.0);
    } finally {
      LocalCluster.deleteTree(base);
    }
    out.printf("bench persist: %d entities, %d events of %d bytes, %d replicas: %s events/s (p50 %s us, p99 %s us),"
        + " recovery %s events/s%n", entities, events, size, replicas, r.get("events_per_s"), r.get("persist_p50_us"),
        r.get("persist_p99_us"), r.get("recovery_events_per_s"));
    if (json) {
      out.println(JSON.writeValueAsString(r));
    }
    return 0;
  }

  private String appConfig() {
    return """
        pekko.persistence.journal.plugin = "holdfast.persistence.journal"
        pekko.persistence.snapshot-store.plugin = "holdfast.persistence.snapshot-store"
        holdfast.persistence.replicas = %d
        """.formatted(replicas);
  }

  private void run(Path base, Map<String, Object> r, PrintStream err) throws Exception {
    List<Integer> ports = new ArrayList<>();
    for (int id = 1; id <= replicas; id++) {
      ports.add(ConsumeBench.freePort());
    }
    List<ActorSystem<Void>> nodes = new ArrayList<>();
    try {
      for (int id = 1; id <= replicas; id++) {
        nodes.add(ConsumeBench.startNode(base, id, ports));
      }
      ActorSystem<Void> app = ConsumeBench.startNode(base, 0, ports, appConfig());
      nodes.add(app);
      awaitRegistered(nodes.subList(0, replicas));
      long[] perEntity = new long[entities];
      for (int i = 0; i < entities; i++) {
        perEntity[i] = events / entities + (i < events % entities ? 1 : 0);
      }
      byte[] payload = new byte[size];
      List<ActorRef<Object>> refs = new ArrayList<>();
      for (int i = 0; i < entities; i++) {
        refs.add(app.systemActorOf(entity("e" + i, payload), "bench-e" + i, Props.empty()));
      }
      // Each entity recovers (empty) before the clock starts: the figures are of persisting.
      List<CompletableFuture<Long>> started = new ArrayList<>();
      for (ActorRef<Object> ref : refs) {
        started.add(AskPattern.<Object, Long>ask(ref, GetCount::new, Duration.ofMinutes(10), app.scheduler())
            .toCompletableFuture());
      }
      CompletableFuture.allOf(started.toArray(new CompletableFuture[0])).get(1, TimeUnit.HOURS);
      err.printf("bench persist: %d entities persisting %d events of %d bytes (%d replicas) ...%n", entities, events,
          size, replicas);
      Histogram latency = new Histogram(3);
      AtomicLong failed = new AtomicLong();
      long start = System.nanoTime();
      List<CompletableFuture<Void>> drivers = new ArrayList<>();
      for (int i = 0; i < entities; i++) {
        drivers.add(drive(app, refs.get(i), perEntity[i], latency, failed));
      }
      CompletableFuture.allOf(drivers.toArray(new CompletableFuture[0])).get(1, TimeUnit.HOURS);
      double secs = (System.nanoTime() - start) / 1e9;
      if (failed.get() > 0) {
        throw new IllegalStateException(failed.get() + " persists failed");
      }
      r.put("events_per_s", Math.round(events / secs));
      synchronized (latency) {
        r.put("persist_p50_us", latency.getValueAtPercentile(50));
        r.put("persist_p99_us", latency.getValueAtPercentile(99));
      }
      app.terminate();
      app.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
      nodes.remove(app);

      err.printf("bench persist: a new application node recovers all %d entities ...%n", entities);
      ActorSystem<Void> again = ConsumeBench.startNode(base, 0, ports, appConfig());
      nodes.add(again);
      awaitMetaView(again);
      start = System.nanoTime();
      List<CompletableFuture<Long>> counts = new ArrayList<>();
      for (int i = 0; i < entities; i++) {
        ActorRef<Object> ref = again.systemActorOf(entity("e" + i, payload), "bench-e" + i, Props.empty());
        counts.add(AskPattern.<Object, Long>ask(ref, GetCount::new, Duration.ofMinutes(10), again.scheduler())
            .toCompletableFuture());
      }
      CompletableFuture.allOf(counts.toArray(new CompletableFuture[0])).get(1, TimeUnit.HOURS);
      secs = (System.nanoTime() - start) / 1e9;
      for (int i = 0; i < entities; i++) {
        if (counts.get(i).get() != perEntity[i]) {
          throw new IllegalStateException("entity e" + i + " recovered " + counts.get(i).get() + " events of "
              + perEntity[i]);
        }
      }
      r.put("recovery_events_per_s", Math.round(events / secs));
    } finally {
      for (int i = nodes.size() - 1; i >= 0; i--) {
        nodes.get(i).terminate();
        nodes.get(i).getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
      }
    }
  }

  private static void awaitRegistered(List<ActorSystem<Void>> servers) throws Exception {
    for (ActorSystem<Void> s : servers) {
      await("the in-process cluster did not form within 90 s", () -> Holdfast.get(s).clusterStatus()
          .toCompletableFuture().get(10, TimeUnit.SECONDS).registration().equals("registered"));
    }
  }

  /** The clock is for replaying, not for joining the cluster: wait until the node sees the journal stream. */
  private static void awaitMetaView(ActorSystem<Void> app) throws Exception {
    await("the new application node did not see the journal stream within 90 s", () -> {
      Holdfast.get(app).streamInfo("PEKKO_JOURNAL").toCompletableFuture().get(10, TimeUnit.SECONDS);
      return true;
    });
  }

  /** Polls {@code ready} (a failure counts as not yet) for up to 90 s; a command-line tool waiting, not a test. */
  private static void await(String timedOut, java.util.concurrent.Callable<Boolean> ready) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    while (true) {
      try {
        if (ready.call()) {
          return;
        }
      } catch (Exception notYet) {
        // the cluster is still forming
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(timedOut);
      }
      Thread.sleep(100);
    }
  }

  /** One entity's commands, one at a time: the next goes when the previous persisted. */
  private static CompletableFuture<Void> drive(ActorSystem<Void> app, ActorRef<Object> entity, long left,
      Histogram latency, AtomicLong failed) {
    if (left == 0) {
      return CompletableFuture.completedFuture(null);
    }
    long sent = System.nanoTime();
    return AskPattern.<Object, Long>ask(entity, Persist::new, Duration.ofSeconds(60), app.scheduler())
        .toCompletableFuture()
        .handle((n, e) -> {
          if (e != null) {
            failed.incrementAndGet();
            return CompletableFuture.<Void>completedFuture(null);
          }
          synchronized (latency) {
            latency.recordValue((System.nanoTime() - sent) / 1000);
          }
          return drive(app, entity, left - 1, latency, failed);
        }).thenCompose(x -> x);
  }
}

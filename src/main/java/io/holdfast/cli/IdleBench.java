package io.holdfast.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.api.Holdfast;
import io.holdfast.api.Records.StreamConfig;
import io.holdfast.local.LocalCluster;
import io.holdfast.node.NodeStorage;
import io.holdfast.stream.ConsumerConfig;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.stream.javadsl.Sink;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code holdfast bench idle}: what idle subscribers cost (issue 18). Three in-process nodes and
 * one R3 stream with nothing published; the nodes' fsyncs and the process's CPU are measured over
 * {@code --seconds} with no subscriber, then again with {@code --consumers} durable consumers each
 * pulled by a running Source (its pull request waits at the stream's leader). The stream's log
 * entries over the second period are counted too: an idle fetch should append none.
 */
@Command(name = "idle", sortOptions = false, description = "What idle pull consumers cost: fsyncs and CPU with and"
    + " without them (in-process nodes).")
final class IdleBench extends CliCommand.Reporting {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Option(names = "--consumers", paramLabel = "N", description = "Idle pull consumers (default ${DEFAULT-VALUE}).")
  int consumers = 1000;
  @Option(names = "--seconds", paramLabel = "S", description = "Length of each measured period (default ${DEFAULT-VALUE}).")
  int seconds = 10;
  @Option(names = "--dir", paramLabel = "DIR", description = "Where the in-process nodes keep their data (default ${DEFAULT-VALUE}).")
  Path parent = Path.of("target");

  @Override
  public Integer call() throws Exception {
    PrintStream out = out();
    PrintStream err = err();
    between("--consumers", consumers, 1, 100_000);
    between("--seconds", seconds, 1, 3600);
    Files.createDirectories(parent);
    Path base = Files.createTempDirectory(parent, "holdfast-bench-idle-");
    List<Integer> ports = List.of(ConsumeBench.freePort(), ConsumeBench.freePort(), ConsumeBench.freePort());
    List<ActorSystem<Void>> nodes = new ArrayList<>();
    Map<String, Object> r = new LinkedHashMap<>();
    try {
      for (int id = 1; id <= 3; id++) {
        nodes.add(ConsumeBench.startNode(base, id, ports));
      }
      Holdfast h = Holdfast.get(nodes.get(0));
      ConsumeBench.createOnceFormed(h, new StreamConfig("idle", List.of("idle.>"), 3));
      err.printf("bench idle: creating %d consumers ...%n", consumers);
      for (int i = 0; i < consumers; i++) {
        h.consumers().create("idle", ConsumerConfig.durable("c" + i)).toCompletableFuture().get();
      }
      err.printf("bench idle: %d s without subscribers ...%n", seconds);
      Period without = measure(nodes, h);
      err.printf("bench idle: %d s with %d idle subscribers ...%n", seconds, consumers);
      List<org.apache.pekko.stream.UniqueKillSwitch> running = new ArrayList<>();
      for (int i = 0; i < consumers; i++) {
        running.add(h.consumer("idle", "c" + i).source()
            .viaMat(org.apache.pekko.stream.KillSwitches.single(), org.apache.pekko.stream.javadsl.Keep.right())
            .to(Sink.ignore()).run(nodes.get(i % 3)));
      }
      Thread.sleep(2000); // let every subscriber start its first pull before measuring
      Period with = measure(nodes, h);
      running.forEach(org.apache.pekko.stream.UniqueKillSwitch::shutdown);
      r.put("consumers", consumers);
      r.put("seconds", seconds);
      r.put("fsyncs_per_s_without", with.round(without.fsyncsPerS()));
      r.put("fsyncs_per_s_with", with.round(with.fsyncsPerS()));
      r.put("cpu_ms_per_s_without", with.round(without.cpuMsPerS()));
      r.put("cpu_ms_per_s_with", with.round(with.cpuMsPerS()));
      r.put("log_entries_with", with.logEntries());
    } finally {
      for (int i = nodes.size() - 1; i >= 0; i--) {
        nodes.get(i).terminate();
        nodes.get(i).getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
      }
      LocalCluster.deleteTree(base);
    }
    out.printf("bench idle: %d idle consumers: %s fsyncs/s (%s without), %s ms CPU/s (%s without), %s log entries"
        + " in %d s%n", consumers, r.get("fsyncs_per_s_with"), r.get("fsyncs_per_s_without"),
        r.get("cpu_ms_per_s_with"), r.get("cpu_ms_per_s_without"), r.get("log_entries_with"), seconds);
    if (json) {
      out.println(JSON.writeValueAsString(r));
    }
    return 0;
  }

  /** One measured period: fsyncs of all nodes, CPU of this process, and the stream's log entries. */
  private record Period(double fsyncsPerS, double cpuMsPerS, long logEntries) {
    double round(double v) {
      return Math.round(v * 10) / 10.0;
    }
  }

  private Period measure(List<ActorSystem<Void>> nodes, Holdfast h) throws Exception {
    var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    long syncs = syncs(nodes);
    long commit = commitIndex(h);
    long cpu = os.getProcessCpuTime();
    long start = System.nanoTime();
    Thread.sleep(seconds * 1000L); // the measured period itself
    double secs = (System.nanoTime() - start) / 1e9;
    return new Period((syncs(nodes) - syncs) / secs, (os.getProcessCpuTime() - cpu) / 1e6 / secs,
        commitIndex(h) - commit);
  }

  private static long syncs(List<ActorSystem<Void>> nodes) throws Exception {
    long total = 0;
    for (ActorSystem<Void> node : nodes) {
      ActorRef<NodeStorage.Command> storage = Adapter.toTyped(Adapter.toClassic(node)
          .actorSelection("/system/holdfast-storage").resolveOne(Duration.ofSeconds(10)).toCompletableFuture().get());
      total += AskPattern.<NodeStorage.Command, NodeStorage.Stats>ask(storage, NodeStorage.GetStats::new,
          Duration.ofSeconds(10), node.scheduler()).toCompletableFuture().get().syncs();
    }
    return total;
  }

  private static long commitIndex(Holdfast h) throws Exception {
    return h.localReplicas().toCompletableFuture().get().entrySet().stream()
        .filter(e -> e.getKey().startsWith("idle")).findFirst().orElseThrow().getValue().orElseThrow().commitIndex();
  }
}

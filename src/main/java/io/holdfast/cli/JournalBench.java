package io.holdfast.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.holdfast.local.LocalCluster;
import io.holdfast.node.NodeStorage;
import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.storage.LogWrite;
import io.holdfast.storage.file.FileLogStore;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.HdrHistogram.Histogram;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code holdfast bench journal}: how fast the node's storage acknowledges durable writes.
 * One writer per stream keeps up to {@code --inflight} one-record writes outstanding (as a Raft
 * leader pipelines) against {@link NodeStorage} over a real {@link FileLogStore}; every ack means
 * fsynced. In the same run, on the same directory, it measures the disk's raw rate: one writer
 * doing 4 KiB write + fsync in a loop. The figure that matters is the ratio of the two: group
 * commit turns one fsync into many acknowledged records.
 */
@Command(name = "journal", sortOptions = false,
    description = "Measure the node storage's group commit against the disk's raw fsync rate.")
final class JournalBench extends CliCommand.Reporting {
  @Option(names = "--streams", paramLabel = "N", description = "Writers, one per stream (default ${DEFAULT-VALUE}).")
  int streams = 1;
  @Option(names = "--record-bytes", paramLabel = "B", description = "Bytes per record (default ${DEFAULT-VALUE}).")
  int recordBytes = 1024;
  @Option(names = "--inflight", paramLabel = "N", description = "Outstanding writes per writer (default ${DEFAULT-VALUE}).")
  int inflight = 256;
  @Option(names = "--seconds", paramLabel = "S", description = "How long to measure (default ${DEFAULT-VALUE}).")
  int seconds = 10;
  @Option(names = "--dir", paramLabel = "DIR", description = "Where the files go (default ${DEFAULT-VALUE}).")
  Path parent = Path.of("target");

  private JournalBench() {}

  private sealed interface WriterCommand {}

  private record StartMeasuring() implements WriterCommand {}

  private record Stop(ActorRef<WriterResult> replyTo) implements WriterCommand {}

  private record FromStorage(NodeStorage.Reply reply) implements WriterCommand {}

  private record WriterResult(long records, Histogram latencyMicros, String failure) {}

  private record Outstanding(long seq, long sentNanos, LogWrite write) {}

  @Override
  public Integer call() throws Exception {
    PrintStream out = out();
    PrintStream err = err();
    between("--streams", streams, 1, 100_000);
    between("--record-bytes", recordBytes, 1, 16 << 20);
    between("--inflight", inflight, 1, 1_000_000);
    between("--seconds", seconds, 1, 3600);
    Files.createDirectories(parent);
    Path base = Files.createTempDirectory(parent, "holdfast-bench-journal-");
    try {
      err.printf("bench journal: raw fsync rate of %s ...%n", base);
      double[] raw = rawFsync(base.resolve("raw-fsync.dat"), Math.max(1, Math.min(3, seconds / 3)));
      err.printf("bench journal: %d streams, %d-byte records, %d in flight each, %d s ...%n", streams, recordBytes,
          inflight, seconds);
      Map<String, Object> r = journal(base.resolve("journal"), streams, recordBytes, inflight, seconds, err);
      r.put("raw_fsync_per_s", Math.round(raw[0]));
      r.put("raw_fsync_p50_us", Math.round(raw[1]));
      double ratio = ((Number) r.get("records_per_s")).doubleValue() / raw[0];
      r.put("ratio_vs_raw_fsync", Math.round(ratio * 10) / 10.0);
      out.printf("bench journal: %d streams x %d B records, %d in flight: %s records/s (%s MB/s), %s fsyncs/s,"
              + " %s records per fsync, ack p50 %s us, p99 %s us%n",
          streams, recordBytes, inflight, r.get("records_per_s"), r.get("mb_per_s"), r.get("fsyncs_per_s"),
          r.get("avg_batch_records"), r.get("ack_p50_us"), r.get("ack_p99_us"));
      out.printf("  raw 4 KiB write+fsync on the same disk: %d/s (p50 %d us); acked records are %.1fx that%n",
          Math.round(raw[0]), Math.round(raw[1]), ratio);
      if (json) {
        out.println(new ObjectMapper().writeValueAsString(r));
      }
      return r.containsKey("failure") ? 1 : 0;
    } finally {
      LocalCluster.deleteTree(base);
    }
  }

  /** Returns {fsyncs per second, p50 latency in microseconds} of 4 KiB append + fsync. */
  static double[] rawFsync(Path file, int seconds) throws IOException {
    return rawFsync(file, seconds, 4096);
  }

  /** Where sequential writes wrap around to the file's start: the baseline never fills the disk. */
  private static final long RAW_FILE_BYTES_MAX = 256L << 20;

  /**
   * Returns {fsyncs per second, p50 latency in microseconds} of {@code blockBytes} sequential
   * writes, each followed by an fsync (the file wraps at 256 MiB); with 1 MiB blocks, times
   * {@code blockBytes} is the disk's sequential fsynced write bandwidth.
   */
  static double[] rawFsync(Path file, int seconds, int blockBytes) throws IOException {
    Histogram h = new Histogram(3);
    ByteBuffer block = ByteBuffer.allocate(blockBytes);
    for (int i = 0; i < blockBytes; i++) {
      block.put(i, (byte) (i * 31 + 7)); // not zeros: a disk or file system that compresses them gains nothing
    }
    long count = 0;
    long start = System.nanoTime();
    long end = start + seconds * 1_000_000_000L;
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
      long now = start;
      while (now < end) {
        block.clear();
        if (ch.position() + blockBytes > RAW_FILE_BYTES_MAX) {
          ch.position(0);
        }
        while (block.hasRemaining()) {
          ch.write(block);
        }
        ch.force(false);
        long t = System.nanoTime();
        h.recordValue(Math.max(1, (t - now) / 1000));
        now = t;
        count++;
      }
      return new double[] {count / ((now - start) / 1e9), h.getValueAtPercentile(50)};
    }
  }

  private static Map<String, Object> journal(Path dir, int streams, int recordBytes, int inflight, int seconds,
      PrintStream err) throws Exception {
    Config config = ConfigFactory.parseString("pekko.actor.provider = local\npekko.loglevel = WARNING")
        .withFallback(ConfigFactory.load());
    FileLogStore store = FileLogStore.open(FileLogStore.Options.fromConfig(dir, config));
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "holdfast-bench", config);
    try {
      ActorRef<NodeStorage.Command> node = system.systemActorOf(
          NodeStorage.create(store, NodeStorage.Settings.fromConfig(config)), "storage",
          DispatcherSelector.fromConfig(NodeStorage.DISPATCHER));
      byte[] payload = new byte[recordBytes];
      for (int i = 0; i < payload.length; i++) {
        payload[i] = (byte) (i * 31 + 7);
      }
      List<ActorRef<WriterCommand>> writers = new ArrayList<>();
      for (int i = 0; i < streams; i++) {
        writers.add(system.systemActorOf(writer("s" + i, node, payload, inflight), "writer-" + i, Props.empty()));
      }
      Thread.sleep(Math.min(2000, seconds * 200L)); // warm-up: JIT, page cache, batch sizes settle
      NodeStorage.Stats before = stats(system, node);
      writers.forEach(w -> w.tell(new StartMeasuring()));
      long start = System.nanoTime();
      Thread.sleep(seconds * 1000L);
      long window = System.nanoTime() - start;
      NodeStorage.Stats after = stats(system, node);
      List<CompletableFuture<WriterResult>> results = new ArrayList<>();
      for (ActorRef<WriterCommand> w : writers) {
        results.add(AskPattern.<WriterCommand, WriterResult>ask(w, Stop::new, Duration.ofSeconds(30), system.scheduler())
            .toCompletableFuture());
      }
      long records = 0;
      Histogram all = new Histogram(3);
      String failure = null;
      for (CompletableFuture<WriterResult> f : results) {
        WriterResult r = f.get();
        records += r.records();
        all.add(r.latencyMicros());
        failure = failure != null ? failure : r.failure();
      }
      double secs = window / 1e9;
      long syncs = after.syncs() - before.syncs();
      Map<String, Object> j = new LinkedHashMap<>();
      j.put("streams", streams);
      j.put("record_bytes", recordBytes);
      j.put("inflight", inflight);
      j.put("seconds", Math.round(secs * 100) / 100.0);
      j.put("records_per_s", Math.round(records / secs));
      j.put("mb_per_s", Math.round(records * (double) recordBytes / secs / 1e6 * 10) / 10.0);
      j.put("fsyncs_per_s", Math.round(syncs / secs));
      j.put("avg_batch_records", syncs == 0 ? 0 : Math.round((after.writesSynced() - before.writesSynced()) / (double) syncs));
      j.put("ack_p50_us", all.getValueAtPercentile(50));
      j.put("ack_p99_us", all.getValueAtPercentile(99));
      j.put("ack_p999_us", all.getValueAtPercentile(99.9));
      if (failure != null) {
        j.put("failure", failure);
        err.println("bench journal: storage failed: " + failure);
      }
      return j;
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get();
      store.close();
    }
  }

  private static NodeStorage.Stats stats(ActorSystem<Void> system, ActorRef<NodeStorage.Command> node) throws Exception {
    return AskPattern.<NodeStorage.Command, NodeStorage.Stats>ask(node, NodeStorage.GetStats::new, Duration.ofSeconds(30),
        system.scheduler()).toCompletableFuture().get();
  }

  /** One stream's writer: keeps {@code inflight} one-record writes outstanding, resends on request. */
  private static Behavior<WriterCommand> writer(String stream, ActorRef<NodeStorage.Command> node, byte[] payload,
      int inflight) {
    return Behaviors.setup(ctx -> {
      ActorRef<NodeStorage.Reply> replies = ctx.messageAdapter(NodeStorage.Reply.class, FromStorage::new);
      ArrayDeque<Outstanding> outstanding = new ArrayDeque<>();
      Histogram latency = new Histogram(3);
      long[] state = {1, 1, 0, 0}; // next index, next seq, last persisted seq, records measured
      boolean[] flags = {true, false}; // running, measuring
      String[] failure = {null};
      Runnable topUp = () -> {
        while (flags[0] && outstanding.size() < inflight) {
          long index = state[0]++;
          LogWrite w = LogWrite.append(index, List.of(new LogEntry(index, 1, EntryType.COMMAND, payload)));
          Outstanding o = new Outstanding(state[1]++, System.nanoTime(), w);
          outstanding.add(o);
          node.tell(new NodeStorage.Write(stream, o.seq(), state[2], w, replies));
        }
      };
      topUp.run();
      return Behaviors.receive(WriterCommand.class)
          .onMessage(StartMeasuring.class, m -> {
            flags[1] = true;
            return Behaviors.same();
          })
          .onMessage(Stop.class, m -> {
            flags[0] = false;
            m.replyTo().tell(new WriterResult(state[3], latency, failure[0]));
            return Behaviors.same();
          })
          .onMessage(FromStorage.class, m -> {
            if (m.reply() instanceof NodeStorage.Persisted p) {
              long now = System.nanoTime();
              while (!outstanding.isEmpty() && outstanding.peekFirst().seq() <= p.seq()) {
                Outstanding o = outstanding.pollFirst();
                if (flags[1] && flags[0]) {
                  latency.recordValue(Math.max(1, (now - o.sentNanos()) / 1000));
                  state[3]++;
                }
              }
              state[2] = p.seq();
              topUp.run();
            } else if (m.reply() instanceof NodeStorage.ResendFrom r) {
              for (Outstanding o : outstanding) {
                if (o.seq() >= r.seq()) {
                  node.tell(new NodeStorage.Write(stream, o.seq(), state[2], o.write(), replies));
                }
              }
            } else if (m.reply() instanceof NodeStorage.StorageStopped s) {
              failure[0] = s.reason();
              flags[0] = false;
            }
            return Behaviors.same();
          })
          .build();
    });
  }

}

package io.holdfast.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;

/**
 * A node's metrics (README "Monitoring"): one Micrometer registry per actor system, scraped in
 * Prometheus's text format at the HTTP API's {@code /metrics}. Counters and timers are updated
 * where things happen (publishes, fsyncs, NATS clients); what is state rather than an event
 * (replica indexes, stream and consumer sizes, disk) is read when a scrape asks, by the sources
 * registered with {@link #onScrape}, and set as gauges. Names are Micrometer's dotted ones; the
 * registry writes them as Prometheus names ({@code holdfast.stream.acks} →
 * {@code holdfast_stream_acks_total}).
 */
public final class HoldfastMetrics implements Extension {
  /** Buckets of the latency histograms: fixed and few, so a thousand streams stay a small scrape. */
  private static final Duration[] LATENCY_BUCKETS = {Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5),
      Duration.ofMillis(10), Duration.ofMillis(20), Duration.ofMillis(50), Duration.ofMillis(100),
      Duration.ofMillis(200), Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(5)};
  private static final Duration[] FSYNC_BUCKETS = {Duration.ofNanos(100_000), Duration.ofNanos(250_000),
      Duration.ofNanos(500_000), Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5), Duration.ofMillis(10),
      Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofSeconds(1)};

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Map<String, StreamMeters> streams = new ConcurrentHashMap<>();
  private final Map<String, MultiGauge> gauges = new ConcurrentHashMap<>();
  private final List<Supplier<CompletionStage<Void>>> sources = new CopyOnWriteArrayList<>();
  public final Timer fsync;
  public final DistributionSummary batchWrites;
  public final DistributionSummary batchBytes;
  public final Counter slowConsumers;

  private HoldfastMetrics() {
    new JvmMemoryMetrics().bindTo(registry);
    new JvmGcMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    fsync = Timer.builder("holdfast.storage.fsync").description("Time of each group-commit fsync of the node's WAL")
        .serviceLevelObjectives(FSYNC_BUCKETS).register(registry);
    batchWrites = DistributionSummary.builder("holdfast.storage.batch.writes")
        .description("Writes covered by each fsync").serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096)
        .register(registry);
    batchBytes = DistributionSummary.builder("holdfast.storage.batch").baseUnit("bytes")
        .description("Bytes covered by each fsync").register(registry);
    slowConsumers = Counter.builder("holdfast.nats.slow.consumers")
        .description("NATS clients disconnected as slow consumers").register(registry);
  }

  public static HoldfastMetrics get(ActorSystem<?> system) {
    return Id.INSTANCE.apply(system);
  }

  public MeterRegistry registry() {
    return registry;
  }

  /** A stream's publish meters, as seen by the node the publishes came through. */
  public record StreamMeters(Counter publishes, Counter acks, Counter duplicates, Timer ackLatency) {}

  public StreamMeters stream(String name) {
    return streams.computeIfAbsent(name, s -> new StreamMeters(
        Counter.builder("holdfast.stream.publishes").description("Publishes to the stream through this node")
            .tag("stream", s).register(registry),
        Counter.builder("holdfast.stream.acks").description("Publishes acknowledged (fsynced on a majority)")
            .tag("stream", s).register(registry),
        Counter.builder("holdfast.stream.duplicates").description("Publishes acknowledged as duplicates of a message id")
            .tag("stream", s).register(registry),
        Timer.builder("holdfast.stream.ack").description("Time from a publish to its ack")
            .tag("stream", s).serviceLevelObjectives(LATENCY_BUCKETS).register(registry)));
  }

  /**
   * Drops the meters of every stream not in {@code streams} (deleted since): their series leave the
   * scrape, and a stream created again under the name counts from zero, as a counter reset.
   */
  public void retainStreams(java.util.Set<String> streams) {
    for (String gone : new ArrayList<>(this.streams.keySet())) {
      if (!streams.contains(gone)) {
        this.streams.remove(gone);
        registry.find("holdfast.stream.publishes").tag("stream", gone).meters().forEach(registry::remove);
        registry.find("holdfast.stream.acks").tag("stream", gone).meters().forEach(registry::remove);
        registry.find("holdfast.stream.duplicates").tag("stream", gone).meters().forEach(registry::remove);
        registry.find("holdfast.stream.ack").tag("stream", gone).meters().forEach(registry::remove);
        registry.find("holdfast.stream.refusals").tag("stream", gone).meters().forEach(registry::remove);
      }
    }
  }

  /** A publish to {@code stream} refused with {@code code} (unavailable, maximum_bytes_exceeded, ...). */
  public void refused(String stream, String code) {
    registry.counter("holdfast.stream.refusals", "stream", stream, "code", code).increment();
  }

  /** A state source: run before every scrape; it sets its gauges with {@link #gauge}. */
  public void onScrape(Supplier<CompletionStage<Void>> source) {
    sources.add(source);
  }

  /** A row of a gauge set at scrape time. */
  public record Row(Tags tags, double value) {}

  /** Sets gauge {@code name} to exactly {@code rows} (rows gone since the last scrape disappear). */
  public void gauge(String name, String description, List<Row> rows) {
    MultiGauge g = gauges.computeIfAbsent(name, n -> MultiGauge.builder(n).description(description).register(registry));
    List<MultiGauge.Row<?>> out = new ArrayList<>();
    for (Row r : rows) {
      out.add(MultiGauge.Row.of(r.tags(), r.value()));
    }
    g.register(out, true);
  }

  /** The sources refreshed (each given at most {@code timeout}; one that fails keeps its last values), then the text. */
  public CompletionStage<String> scrape(Duration timeout) {
    List<CompletableFuture<Void>> all = new ArrayList<>();
    for (Supplier<CompletionStage<Void>> s : sources) {
      CompletableFuture<Void> f;
      try {
        f = s.get().toCompletableFuture();
      } catch (RuntimeException e) {
        f = CompletableFuture.failedFuture(e);
      }
      all.add(f.completeOnTimeout(null, timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
          .exceptionally(e -> null));
    }
    return CompletableFuture.allOf(all.toArray(new CompletableFuture[0])).thenApply(x -> registry.scrape());
  }

  private static final class Id extends ExtensionId<HoldfastMetrics> {
    static final Id INSTANCE = new Id();

    @Override
    public HoldfastMetrics createExtension(ActorSystem<?> system) {
      return new HoldfastMetrics();
    }
  }
}

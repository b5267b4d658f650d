package io.holdfast.persistence;

import com.typesafe.config.Config;
import io.holdfast.api.Holdfast;
import io.holdfast.api.Records;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Predicate;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.persistence.SelectedSnapshot;
import org.apache.pekko.persistence.SnapshotMetadata;
import org.apache.pekko.persistence.SnapshotSelectionCriteria;
import org.apache.pekko.persistence.snapshot.japi.SnapshotStore;
import scala.concurrent.Future;
import scala.jdk.javaapi.FutureConverters;

/**
 * The snapshot store plugin ({@code holdfast.persistence.snapshot-store}). Each snapshot is one
 * message of the snapshot stream on {@code <prefix>.<persistence id>}: the snapshot serialized by
 * Pekko serialization, its sequence number and timestamp in headers ({@link EventCodec}). It is
 * published like any message: acknowledged once fsynced on a majority of the stream's replicas.
 * A snapshot is at most one message, {@link io.holdfast.replica.StreamMachine#MESSAGE_BYTES_MAX}
 * (1 MiB); a larger one fails to save (the entity goes on from its events).
 *
 * <p>Loading reads the persistence id's snapshots page by page and keeps the best match only: the
 * highest sequence number within the criteria, the later one of two with the same number.
 */
public final class HoldfastSnapshotStore extends SnapshotStore {
  private final PluginStream stream;
  private final EventCodec codec;

  public HoldfastSnapshotStore(Config config) {
    this.stream = new PluginStream(Holdfast.get(Adapter.toTyped(context().system())), config);
    this.codec = new EventCodec(context().system());
  }

  private static boolean matches(SnapshotSelectionCriteria c, long seqNr, long timestamp) {
    return seqNr >= c.minSequenceNr() && seqNr <= c.maxSequenceNr() && timestamp >= c.minTimestamp()
        && timestamp <= c.maxTimestamp();
  }

  private static long timestamp(Records.StreamMessage m) {
    return Long.parseLong(EventCodec.header(m, EventCodec.TIMESTAMP, "0"));
  }

  @Override
  public Future<Optional<SelectedSnapshot>> doLoadAsync(String persistenceId, SnapshotSelectionCriteria criteria) {
    CompletionStage<Optional<SelectedSnapshot>> best = stream.ready().thenCompose(v -> best(persistenceId, criteria, 1,
        null)).thenApply(m -> m == null ? Optional.empty() : Optional.of(SelectedSnapshot.create(
            new SnapshotMetadata(persistenceId, EventCodec.sequenceNr(m), timestamp(m)), codec.decode(m))));
    return FutureConverters.asScala(best.toCompletableFuture());
  }

  private CompletionStage<Records.StreamMessage> best(String id, SnapshotSelectionCriteria criteria, long fromSeq,
      Records.StreamMessage best) {
    return stream.read(() -> stream.holdfast.readSubject(stream.name, stream.subject(null, id), fromSeq, PAGE))
        .thenCompose(page -> {
          Records.StreamMessage found = best;
          for (Records.StreamMessage m : page) {
            long seqNr = EventCodec.sequenceNr(m);
            if (matches(criteria, seqNr, timestamp(m)) && (found == null || seqNr >= EventCodec.sequenceNr(found))) {
              found = m;
            }
          }
          return page.isEmpty() ? CompletableFuture.completedFuture(found)
              : best(id, criteria, page.get(page.size() - 1).seq() + 1, found);
        });
  }

  private static final int PAGE = 64;

  @Override
  public Future<Void> doSaveAsync(SnapshotMetadata metadata, Object snapshot) {
    TreeMap<String, List<String>> headers = new TreeMap<>();
    headers.put(EventCodec.SEQ_NR, List.of(Long.toString(metadata.sequenceNr())));
    headers.put(EventCodec.TIMESTAMP, List.of(Long.toString(metadata.timestamp())));
    Records.Outgoing out;
    try {
      out = codec.encode(stream.subject(null, metadata.persistenceId()), snapshot, headers);
    } catch (Exception e) {
      return FutureConverters.asScala(CompletableFuture.failedFuture(e));
    }
    CompletionStage<Void> saved = stream.ready().thenCompose(v -> stream.holdfast.publish(out.subject(), out.headers(),
        out.payload())).thenApply(ack -> null);
    return FutureConverters.asScala(saved.toCompletableFuture());
  }

  @Override
  public Future<Void> doDeleteAsync(SnapshotMetadata metadata) {
    return delete(metadata.persistenceId(), m -> EventCodec.sequenceNr(m) == metadata.sequenceNr()
        && (metadata.timestamp() == 0 || timestamp(m) == metadata.timestamp()));
  }

  @Override
  public Future<Void> doDeleteAsync(String persistenceId, SnapshotSelectionCriteria criteria) {
    return delete(persistenceId, m -> matches(criteria, EventCodec.sequenceNr(m), timestamp(m)));
  }

  private Future<Void> delete(String id, Predicate<Records.StreamMessage> which) {
    CompletionStage<Void> done = stream.ready().thenCompose(v -> delete(id, which, 1));
    return FutureConverters.asScala(done.toCompletableFuture());
  }

  private CompletionStage<Void> delete(String id, Predicate<Records.StreamMessage> which, long fromSeq) {
    return stream.read(() -> stream.holdfast.readSubject(stream.name, stream.subject(null, id), fromSeq, PAGE))
        .thenCompose(page -> {
          List<CompletableFuture<Long>> deletes = new ArrayList<>();
          for (Records.StreamMessage m : page) {
            if (which.test(m)) {
              deletes.add(stream.holdfast.deleteMessage(stream.name, m.seq()).toCompletableFuture());
            }
          }
          CompletableFuture<Void> all = CompletableFuture.allOf(deletes.toArray(new CompletableFuture[0]));
          return page.isEmpty() ? all : all.thenCompose(v -> delete(id, which, page.get(page.size() - 1).seq() + 1));
        });
  }
}

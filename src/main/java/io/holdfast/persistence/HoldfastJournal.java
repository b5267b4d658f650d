package io.holdfast.persistence;

import com.typesafe.config.Config;
import io.holdfast.api.Holdfast;
import io.holdfast.api.HoldfastException;
import io.holdfast.api.Records;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.persistence.AtomicWrite;
import org.apache.pekko.persistence.PersistentRepr;
import org.apache.pekko.persistence.journal.japi.AsyncWriteJournal;
import scala.concurrent.Future;
import scala.jdk.javaapi.CollectionConverters;
import scala.jdk.javaapi.FutureConverters;

/**
 * The journal plugin ({@code holdfast.persistence.journal}). Every event is a message of the
 * journal stream on {@code <prefix>.e.<persistence id>} (see {@link PluginStream}), its payload the
 * event serialized by Pekko serialization, its sequence number and the rest in headers ({@link
 * EventCodec}). A {@code persist}/{@code persistAll} is one atomic publish ({@link
 * Holdfast#publishAtomic}): one log entry, fsynced on a majority of the stream's replicas before
 * the journal answers, all events or none.
 *
 * <p><b>Single writer.</b> Each write carries the stream sequence of the newest event of that
 * persistence id as this journal last saw it — at recovery ({@link #doAsyncReadHighestSequenceNr},
 * which Pekko calls before replaying) or at its own last write — as {@code
 * Nats-Expected-Last-Subject-Sequence}. A second incarnation of the entity elsewhere (the
 * split-brain hazard of event sourcing) that wrote since makes this write fail whole: the entity's
 * persist fails and it stops, and nothing interleaves. The journal remembers this for the 100,000
 * ids it used last; for another, it takes the stored newest event as the expectation only if its
 * sequence number is below the write's (else another incarnation is ahead: the write fails).
 *
 * <p><b>Deletes.</b> {@code deleteMessagesTo(n)} records n on {@code <prefix>.d.<persistence id>}
 * (replay starts after it) and purges the events up to n, except the newest event: it stays, so
 * that the highest sequence number never goes down, and so does the last-subject sequence the
 * single-writer check compares.
 */
public final class HoldfastJournal extends AsyncWriteJournal {
  private final PluginStream stream;
  private final JournalSubjects subjects;
  private final EventCodec codec;
  /**
   * Persistence id → stream sequence of its newest event as this journal knows it (the
   * single-writer expectation), for the {@link #REMEMBERED_MAX} ids used last.
   */
  private final Map<String, Long> lastSeqs = java.util.Collections.synchronizedMap(
      new java.util.LinkedHashMap<>(1024, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
          return size() > REMEMBERED_MAX;
        }
      });
  /** Ids whose expectation is remembered: the map's heap is bounded, whatever the number of entities. */
  static final int REMEMBERED_MAX = 100_000;

  public HoldfastJournal(Config config) {
    Holdfast holdfast = Holdfast.get(Adapter.toTyped(context().system()));
    this.stream = new PluginStream(holdfast, config);
    this.subjects = new JournalSubjects(stream);
    this.codec = new EventCodec(context().system());
  }

  private String events(String persistenceId) {
    return subjects.events(persistenceId);
  }

  @Override
  public Future<Iterable<Optional<Exception>>> doAsyncWriteMessages(Iterable<AtomicWrite> messages) {
    List<AtomicWrite> writes = new ArrayList<>();
    messages.forEach(writes::add);
    List<Optional<Exception>> results = new ArrayList<>(writes.size());
    Map<String, List<Integer>> byId = new LinkedHashMap<>();
    for (int i = 0; i < writes.size(); i++) {
      results.add(Optional.empty());
      byId.computeIfAbsent(writes.get(i).persistenceId(), k -> new ArrayList<>()).add(i);
    }
    List<CompletableFuture<Void>> chains = new ArrayList<>();
    for (Map.Entry<String, List<Integer>> e : byId.entrySet()) {
      // One persistence id's writes go one after the other: each expects the one before it.
      CompletionStage<Void> chain = stream.ready();
      for (int i : e.getValue()) {
        chain = chain.thenCompose(v -> write(writes.get(i), results, i));
      }
      chains.add(chain.toCompletableFuture());
    }
    CompletableFuture<Iterable<Optional<Exception>>> all = CompletableFuture.allOf(chains.toArray(new CompletableFuture[0]))
        .thenApply(v -> results);
    return FutureConverters.asScala(all);
  }

  /**
   * One AtomicWrite. An event that cannot be serialized, or a write too large for one atomic
   * publish, is rejected ({@code results[i]}; nothing stored, the entity goes on). Anything else
   * fails the returned stage, and with it the whole batch: the entity's persist fails.
   */
  private CompletionStage<Void> write(AtomicWrite write, List<Optional<Exception>> results, int i) {
    String id = write.persistenceId();
    List<Records.Outgoing> batch = new ArrayList<>();
    long firstSeqNr = write.lowestSequenceNr();
    try {
      for (PersistentRepr r : CollectionConverters.asJava(write.payload())) {
        batch.add(codec.encode(events(id), r));
      }
    } catch (Exception notSerializable) {
      results.set(i, Optional.of(notSerializable));
      return CompletableFuture.completedFuture(null);
    }
    return lastSeq(id, firstSeqNr).thenCompose(last -> stream.holdfast.publishAtomic(batch, new Records.PublishOptions(null, null,
        null, last, null))).handle((acks, failure) -> {
          if (failure == null) {
            lastSeqs.put(id, acks.get(acks.size() - 1).seq());
            return CompletableFuture.<Void>completedFuture(null);
          }
          Throwable e = HoldfastException.unwrap(failure);
          if (e instanceof HoldfastException.BadRequest bad) {
            results.set(i, Optional.of(bad)); // refused before anything was stored: too large, say
            return CompletableFuture.<Void>completedFuture(null);
          }
          lastSeqs.remove(id); // a conflict or an unknown outcome: recovery reads it again
          return CompletableFuture.<Void>failedFuture(e instanceof HoldfastException.Conflict c
              && c.code().equals("wrong_last_sequence")
              ? new IllegalStateException("persistence id " + id + " was written by another writer since this one"
                  + " recovered (" + c.getMessage() + "): stopping, so that its events do not interleave", c) : e);
        }).thenCompose(x -> x);
  }

  /**
   * The expectation for a write of {@code id} from sequence number {@code firstSeqNr}: as last
   * seen here; else (this journal did not see the id, or forgot it) the stream's newest event of
   * the id, provided its sequence number is below {@code firstSeqNr} — a newer one was written
   * by another incarnation, and this write must not follow it.
   */
  private CompletionStage<Long> lastSeq(String id, long firstSeqNr) {
    Long known = lastSeqs.get(id);
    if (known != null) {
      return CompletableFuture.completedFuture(known);
    }
    return stream.newest(events(id)).thenApply(m -> {
      if (m.isPresent() && EventCodec.sequenceNr(m.get()) >= firstSeqNr) {
        throw new java.util.concurrent.CompletionException(new HoldfastException.Conflict("wrong_last_sequence",
            "its newest event has sequence number " + EventCodec.sequenceNr(m.get()) + ", this write starts at "
                + firstSeqNr));
      }
      return m.map(Records.StreamMessage::seq).orElse(0L);
    });
  }

  @Override
  public Future<Long> doAsyncReadHighestSequenceNr(String persistenceId, long fromSequenceNr) {
    CompletionStage<Long> highest = stream.newest(events(persistenceId)).thenCombine(deletedTo(persistenceId),
        (last, deleted) -> {
          lastSeqs.put(persistenceId, last.map(Records.StreamMessage::seq).orElse(0L));
          return Math.max(deleted, last.map(EventCodec::sequenceNr).orElse(0L));
        });
    return FutureConverters.asScala(highest.toCompletableFuture());
  }

  private CompletionStage<Long> deletedTo(String persistenceId) {
    return subjects.deletedTo(persistenceId);
  }

  @Override
  public Future<Void> doAsyncReplayMessages(String persistenceId, long fromSequenceNr, long toSequenceNr, long max,
      Consumer<PersistentRepr> replayCallback) {
    if (max <= 0 || toSequenceNr < fromSequenceNr) {
      return FutureConverters.asScala(CompletableFuture.completedFuture(null));
    }
    CompletionStage<Void> done = deletedTo(persistenceId).thenCompose(deleted -> replayFrom(persistenceId, 1,
        Math.max(fromSequenceNr, deleted + 1), toSequenceNr, max, replayCallback));
    return FutureConverters.asScala(done.toCompletableFuture());
  }

  /** Replays page by page (~320 KiB each) from stream sequence {@code streamSeq}: never the whole history at once. */
  private CompletionStage<Void> replayFrom(String id, long streamSeq, long from, long to, long left,
      Consumer<PersistentRepr> callback) {
    return stream.read(() -> stream.holdfast.readSubject(stream.name, events(id), streamSeq, REPLAY_PAGE))
        .thenCompose(page -> {
          long remaining = left;
          for (Records.StreamMessage m : page) {
            long seqNr = EventCodec.sequenceNr(m);
            if (seqNr > to) {
              return CompletableFuture.completedFuture(null);
            }
            if (seqNr >= from) {
              callback.accept(codec.decode(id, m));
              if (--remaining == 0) {
                return CompletableFuture.completedFuture(null);
              }
            }
          }
          if (page.isEmpty()) {
            return CompletableFuture.completedFuture(null);
          }
          return replayFrom(id, page.get(page.size() - 1).seq() + 1, from, to, remaining, callback);
        });
  }

  private static final int REPLAY_PAGE = 512;

  @Override
  public Future<Void> doAsyncDeleteMessagesTo(String persistenceId, long toSequenceNr) {
    String subject = events(persistenceId);
    CompletionStage<Void> done = stream.newest(subject).thenCombine(deletedTo(persistenceId), (last, deleted) -> {
      long highest = last.map(EventCodec::sequenceNr).orElse(0L);
      return new long[] {Math.min(toSequenceNr, highest), deleted, last.map(Records.StreamMessage::seq).orElse(0L)};
    }).thenCompose(x -> {
      long upTo = x[0];
      if (upTo <= x[1]) {
        return CompletableFuture.completedFuture(null); // deleted that far already (or nothing to delete)
      }
      return stream.holdfast.publish(subjects.deletions(persistenceId), EventCodec.deletion(upTo), new byte[0])
          .thenCompose(ack -> keepFrom(subject, upTo, x[2]))
          .thenCompose(keep -> stream.holdfast.purgeStream(stream.name, subject, keep, 0))
          .thenCompose(n -> stream.holdfast.purgeStream(stream.name, subjects.deletions(persistenceId), 0, 1))
          .thenApply(n -> null);
    });
    return FutureConverters.asScala(done.toCompletableFuture());
  }

  /**
   * The stream sequence of the first event after sequence number {@code upTo}, or of the newest
   * event ({@code newestSeq}) if none follows: the purge takes the events below it.
   */
  private CompletionStage<Long> keepFrom(String subject, long upTo, long newestSeq) {
    return keepFrom(subject, upTo, newestSeq, 1);
  }

  private CompletionStage<Long> keepFrom(String subject, long upTo, long newestSeq, long fromStreamSeq) {
    return stream.read(() -> stream.holdfast.readSubject(stream.name, subject, fromStreamSeq, REPLAY_PAGE))
        .thenCompose(page -> {
          for (Records.StreamMessage m : page) {
            if (EventCodec.sequenceNr(m) > upTo || m.seq() >= newestSeq) {
              return CompletableFuture.completedFuture(m.seq());
            }
          }
          if (page.isEmpty()) {
            return CompletableFuture.completedFuture(newestSeq);
          }
          return keepFrom(subject, upTo, newestSeq, page.get(page.size() - 1).seq() + 1);
        });
  }
}

package io.holdfast.persistence;

import com.typesafe.config.Config;
import io.holdfast.api.Holdfast;
import io.holdfast.api.Records;
import io.holdfast.stream.ConsumerConfig;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.Sequence;
import org.apache.pekko.persistence.query.javadsl.CurrentEventsByPersistenceIdQuery;
import org.apache.pekko.persistence.query.javadsl.CurrentEventsByTagQuery;
import org.apache.pekko.persistence.query.javadsl.CurrentPersistenceIdsQuery;
import org.apache.pekko.persistence.query.javadsl.EventsByPersistenceIdQuery;
import org.apache.pekko.persistence.query.javadsl.EventsByTagQuery;
import org.apache.pekko.persistence.query.javadsl.PersistenceIdsQuery;
import org.apache.pekko.persistence.query.javadsl.ReadJournal;
import org.apache.pekko.stream.javadsl.Source;

/**
 * The read journal ({@code holdfast.persistence.query}; {@code PersistenceQuery.get(system)
 * .getReadJournalFor(HoldfastReadJournal.class, HoldfastReadJournal.IDENTIFIER)}) over the journal
 * stream. Offsets are {@link Sequence}s of the journal stream's sequence: one order for every
 * event of every entity, so a tag query resumes exactly where it stopped (exclusive, as Pekko's
 * offsets are).
 *
 * <p>A query reads what is stored up to the stream's last sequence when it starts by pages from
 * the leader (no log entries). A live query then goes on with an ephemeral consumer from the next
 * sequence (ack none, filtered to the journal's events, deleted when the query ends or after
 * {@link #LIVE_INACTIVE_MILLIS} without a fetch): delivery is driven by the query's demand, through
 * the consumer machinery that every other subscriber uses. Tags are headers, not subjects: a tag
 * query reads every event and keeps those with its tag. {@code persistenceIds} lists the subjects,
 * then names each new entity at its first event; an id that appears while it starts may be named
 * twice.
 */
public final class HoldfastReadJournal implements ReadJournal, EventsByPersistenceIdQuery,
    CurrentEventsByPersistenceIdQuery, PersistenceIdsQuery, CurrentPersistenceIdsQuery, EventsByTagQuery,
    CurrentEventsByTagQuery {
  public static final String IDENTIFIER = "holdfast.persistence.query";
  /** A live query's consumer is removed after this long without a fetch (its query was dropped without ending). */
  static final long LIVE_INACTIVE_MILLIS = 60_000;
  private static final int PAGE = 256;

  private final PluginStream journal;
  private final JournalSubjects subjects;
  private final EventCodec codec;

  HoldfastReadJournal(ExtendedActorSystem system, Config config) {
    this.journal = new PluginStream(Holdfast.get(Adapter.toTyped(system)), config);
    this.subjects = new JournalSubjects(journal);
    this.codec = new EventCodec(system);
  }


  /** A source made when it is materialized (each run reads the stream as it is then). */
  private static <T> Source<T, NotUsed> deferred(java.util.function.Supplier<CompletionStage<Source<T, NotUsed>>> make) {
    return Source.lazyCompletionStageSource(make::get).mapMaterializedValue(m -> NotUsed.getInstance());
  }

  private CompletionStage<Long> lastSeq() {
    return journal.read(() -> journal.holdfast.streamInfo(journal.name)).thenApply(i -> i.state().lastSeq());
  }

  /** Pages read by {@code page(from)} from stream sequence {@code from} up to {@code upTo}. */
  private static Source<Records.StreamMessage, NotUsed> pages(long from, long upTo,
      Function<Long, CompletionStage<List<Records.StreamMessage>>> page) {
    return Source.unfoldAsync(from, next -> next > upTo ? CompletableFuture.completedFuture(Optional.empty())
            : page.apply(next).thenApply(got -> got.isEmpty() ? Optional.empty()
                : Optional.of(Pair.create(got.get(got.size() - 1).seq() + 1, got))))
        .mapConcat(got -> got)
        .takeWhile(m -> m.seq() <= upTo);
  }

  private Source<Records.StreamMessage, NotUsed> subjectPages(String subject, long from, long upTo) {
    return pages(from, upTo, next -> journal.read(() -> journal.holdfast.readSubject(journal.name, subject, next, PAGE)));
  }

  private Source<Records.StreamMessage, NotUsed> streamPages(long from, long upTo) {
    return pages(from, upTo, next -> journal.read(() -> journal.holdfast.readRange(journal.name, next, PAGE)));
  }

  /** Every message on {@code filter} from stream sequence {@code from} on, as stored from now on: an ephemeral consumer's. */
  private Source<Records.StreamMessage, NotUsed> live(String filter, long from) {
    String name = "query-" + UUID.randomUUID();
    ConsumerConfig config = ConsumerConfig.durable(name).withDurable(false)
        .withDeliverPolicy(ConsumerConfig.DeliverPolicy.BY_START_SEQUENCE).withOptStartSeq(Math.max(1, from))
        .withFilterSubjects(List.of(filter)).withAckPolicy(ConsumerConfig.AckPolicy.NONE)
        .withInactiveThresholdMillis(LIVE_INACTIVE_MILLIS);
    Holdfast h = journal.holdfast;
    return deferred(() -> journal.read(() -> h.consumers().create(journal.name, config)).thenApply(info ->
        h.consumer(journal.name, name).source()
            .map(m -> new Records.StreamMessage(m.stream(), m.seq(), m.subject(), m.headers(), m.payload(),
                m.timestampMillis()))
            .watchTermination((control, done) -> {
              done.whenComplete((d, e) -> h.consumers().delete(journal.name, name));
              return NotUsed.getInstance();
            })));
  }

  private EventEnvelope envelope(Records.StreamMessage m) {
    String id = PluginStream.persistenceId(m.subject());
    long timestamp = Long.parseLong(EventCodec.header(m, EventCodec.TIMESTAMP, Long.toString(m.timestampMillis())));
    return new EventEnvelope(new Sequence(m.seq()), id, EventCodec.sequenceNr(m), codec.decode(m), timestamp);
  }

  private Source<EventEnvelope, NotUsed> byPersistenceId(String id, long from, long to, boolean live) {
    String subject = subjects.events(id);
    return deferred(() -> lastSeq().thenCombine(subjects.deletedTo(id), (last, deleted) -> {
      Source<Records.StreamMessage, NotUsed> stored = subjectPages(subject, 1, last);
      Source<Records.StreamMessage, NotUsed> all = live ? stored.concat(live(subject, last + 1)) : stored;
      long first = Math.max(from, deleted + 1);
      return all.takeWhile(m -> EventCodec.sequenceNr(m) < to, true)
          .filter(m -> EventCodec.sequenceNr(m) >= first && EventCodec.sequenceNr(m) <= to)
          .map(this::envelope);
    }));
  }


  @Override
  public Source<EventEnvelope, NotUsed> eventsByPersistenceId(String persistenceId, long fromSequenceNr,
      long toSequenceNr) {
    return byPersistenceId(persistenceId, fromSequenceNr, toSequenceNr, true);
  }

  @Override
  public Source<EventEnvelope, NotUsed> currentEventsByPersistenceId(String persistenceId, long fromSequenceNr,
      long toSequenceNr) {
    return byPersistenceId(persistenceId, fromSequenceNr, toSequenceNr, false);
  }

  /** The first stream sequence after {@code offset}: Sequence offsets are exclusive. */
  private static long after(Offset offset) {
    if (offset instanceof Sequence s) {
      return s.value() + 1;
    }
    if (offset == null || offset.equals(Offset.noOffset())) {
      return 1;
    }
    throw new IllegalArgumentException("Holdfast's read journal takes Sequence offsets (or NoOffset), got " + offset);
  }

  private Source<EventEnvelope, NotUsed> byTag(String tag, Offset offset, boolean live) {
    long from = after(offset);
    return deferred(() -> lastSeq().thenApply(last -> {
      Source<Records.StreamMessage, NotUsed> stored = streamPages(from, last);
      Source<Records.StreamMessage, NotUsed> all = live ? stored.concat(live(subjects.allEvents(), Math.max(from, last + 1)))
          : stored;
      return all.filter(m -> subjects.isEvent(m.subject()) && EventCodec.tags(m).contains(tag)).map(this::envelope);
    }));
  }

  @Override
  public Source<EventEnvelope, NotUsed> eventsByTag(String tag, Offset offset) {
    return byTag(tag, offset, true);
  }

  @Override
  public Source<EventEnvelope, NotUsed> currentEventsByTag(String tag, Offset offset) {
    return byTag(tag, offset, false);
  }

  private Source<String, NotUsed> storedIds() {
    String filter = subjects.eachEntity();
    return Source.unfoldAsync("", after -> after == null ? CompletableFuture.completedFuture(Optional.empty())
            : journal.read(() -> journal.holdfast.subjects(journal.name, filter, after, PAGE)).thenApply(page ->
                Optional.of(Pair.create(page.size() < PAGE ? null : page.get(page.size() - 1), page))))
        .mapConcat(page -> page)
        .map(PluginStream::persistenceId);
  }

  @Override
  public Source<String, NotUsed> currentPersistenceIds() {
    return storedIds();
  }

  @Override
  public Source<String, NotUsed> persistenceIds() {
    return deferred(() -> lastSeq().thenApply(last -> storedIds().concat(live(subjects.allEvents(), last + 1)
        .filter(m -> EventCodec.sequenceNr(m) == 1)
        .map(m -> PluginStream.persistenceId(m.subject())))));
  }
}

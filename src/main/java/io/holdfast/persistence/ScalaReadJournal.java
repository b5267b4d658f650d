package io.holdfast.persistence;

import org.apache.pekko.NotUsed;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.scaladsl.CurrentEventsByPersistenceIdQuery;
import org.apache.pekko.persistence.query.scaladsl.CurrentEventsByTagQuery;
import org.apache.pekko.persistence.query.scaladsl.CurrentPersistenceIdsQuery;
import org.apache.pekko.persistence.query.scaladsl.EventsByPersistenceIdQuery;
import org.apache.pekko.persistence.query.scaladsl.EventsByTagQuery;
import org.apache.pekko.persistence.query.scaladsl.PersistenceIdsQuery;
import org.apache.pekko.persistence.query.scaladsl.ReadJournal;
import org.apache.pekko.stream.scaladsl.Source;

/** The scaladsl face of {@link HoldfastReadJournal}: the same queries as Scala sources. */
public final class ScalaReadJournal implements ReadJournal, EventsByPersistenceIdQuery,
    CurrentEventsByPersistenceIdQuery, PersistenceIdsQuery, CurrentPersistenceIdsQuery, EventsByTagQuery,
    CurrentEventsByTagQuery {
  public static final String IDENTIFIER = HoldfastReadJournal.IDENTIFIER;
  private final HoldfastReadJournal journal;

  ScalaReadJournal(HoldfastReadJournal journal) {
    this.journal = journal;
  }

  @Override
  public Source<EventEnvelope, NotUsed> eventsByPersistenceId(String persistenceId, long fromSequenceNr,
      long toSequenceNr) {
    return journal.eventsByPersistenceId(persistenceId, fromSequenceNr, toSequenceNr).asScala();
  }

  @Override
  public Source<EventEnvelope, NotUsed> currentEventsByPersistenceId(String persistenceId, long fromSequenceNr,
      long toSequenceNr) {
    return journal.currentEventsByPersistenceId(persistenceId, fromSequenceNr, toSequenceNr).asScala();
  }

  @Override
  public Source<String, NotUsed> persistenceIds() {
    return journal.persistenceIds().asScala();
  }

  @Override
  public Source<String, NotUsed> currentPersistenceIds() {
    return journal.currentPersistenceIds().asScala();
  }

  @Override
  public Source<EventEnvelope, NotUsed> eventsByTag(String tag, Offset offset) {
    return journal.eventsByTag(tag, offset).asScala();
  }

  @Override
  public Source<EventEnvelope, NotUsed> currentEventsByTag(String tag, Offset offset) {
    return journal.currentEventsByTag(tag, offset).asScala();
  }
}

package io.holdfast.persistence;

import java.util.concurrent.CompletionStage;

/**
 * Where the journal keeps what, in its stream: events of persistence id P on {@code
 * <prefix>.e.P}, deletion marks on {@code <prefix>.d.P}. The journal writes by it and the read
 * journal reads by it: the layout in one place.
 */
final class JournalSubjects {
  final PluginStream stream;

  JournalSubjects(PluginStream stream) {
    this.stream = stream;
  }

  String events(String persistenceId) {
    return stream.subject("e", persistenceId);
  }

  String deletions(String persistenceId) {
    return stream.subject("d", persistenceId);
  }

  /** Every entity's events. */
  String allEvents() {
    return stream.prefix + ".e.>";
  }

  /** One subject per entity with events (for listing ids). */
  String eachEntity() {
    return stream.prefix + ".e.*";
  }

  boolean isEvent(String subject) {
    return subject.startsWith(stream.prefix + ".e.");
  }

  /** The sequence number up to which {@code persistenceId}'s events are deleted (0: none). */
  CompletionStage<Long> deletedTo(String persistenceId) {
    return stream.newest(deletions(persistenceId)).thenApply(m -> m.map(EventCodec::deletedTo).orElse(0L));
  }
}

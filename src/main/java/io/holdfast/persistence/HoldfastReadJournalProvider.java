package io.holdfast.persistence;

import com.typesafe.config.Config;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.persistence.query.ReadJournalProvider;

/** Registers {@link HoldfastReadJournal} as {@code holdfast.persistence.query}, for both DSLs. */
public final class HoldfastReadJournalProvider implements ReadJournalProvider {
  private final HoldfastReadJournal javadsl;
  private final ScalaReadJournal scaladsl;

  public HoldfastReadJournalProvider(ExtendedActorSystem system, Config config, String configPath) {
    this.javadsl = new HoldfastReadJournal(system, config);
    this.scaladsl = new ScalaReadJournal(javadsl);
  }

  @Override
  public org.apache.pekko.persistence.query.scaladsl.ReadJournal scaladslReadJournal() {
    return scaladsl;
  }

  @Override
  public org.apache.pekko.persistence.query.javadsl.ReadJournal javadslReadJournal() {
    return javadsl;
  }
}

package io.holdfast.persistence;

import com.typesafe.config.Config;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.persistence.state.DurableStateStoreProvider;
import org.apache.pekko.persistence.state.javadsl.DurableStateStore;

/** Registers {@link HoldfastDurableStateStore} as {@code holdfast.persistence.state}, for both DSLs. */
public final class HoldfastDurableStateStoreProvider implements DurableStateStoreProvider {
  private final HoldfastDurableStateStore store;
  private final ScalaDurableStateStore scala;

  public HoldfastDurableStateStoreProvider(ExtendedActorSystem system, Config config, String configPath) {
    this.store = new HoldfastDurableStateStore(system, config);
    this.scala = new ScalaDurableStateStore(store);
  }

  @Override
  public org.apache.pekko.persistence.state.scaladsl.DurableStateStore<Object> scaladslDurableStateStore() {
    return scala;
  }

  @Override
  public DurableStateStore<Object> javadslDurableStateStore() {
    return store;
  }
}

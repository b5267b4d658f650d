package io.holdfast.persistence;

import org.apache.pekko.Done;
import org.apache.pekko.persistence.state.scaladsl.DurableStateUpdateStore;
import org.apache.pekko.persistence.state.scaladsl.GetObjectResult;
import scala.concurrent.Future;
import scala.jdk.javaapi.FutureConverters;
import scala.jdk.javaapi.OptionConverters;

/** The scaladsl face of {@link HoldfastDurableStateStore}: the same store, with Scala futures and options. */
final class ScalaDurableStateStore implements DurableStateUpdateStore<Object> {
  private final HoldfastDurableStateStore store;

  ScalaDurableStateStore(HoldfastDurableStateStore store) {
    this.store = store;
  }

  @Override
  public Future<GetObjectResult<Object>> getObject(String persistenceId) {
    return FutureConverters.asScala(store.getObject(persistenceId).thenApply(r ->
        new GetObjectResult<>(OptionConverters.toScala(r.value()), r.revision())));
  }

  @Override
  public Future<Done> upsertObject(String persistenceId, long revision, Object value, String tag) {
    return FutureConverters.asScala(store.upsertObject(persistenceId, revision, value, tag));
  }

  @Override
  public Future<Done> deleteObject(String persistenceId, long revision) {
    return FutureConverters.asScala(store.deleteObject(persistenceId, revision));
  }

  @Override
  @Deprecated
  @SuppressWarnings("deprecation")
  public Future<Done> deleteObject(String persistenceId) {
    return FutureConverters.asScala(store.deleteObject(persistenceId));
  }
}

package io.holdfast.replica;

import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;

/**
 * How many of this node's replicas fetch a snapshot's messages from a peer at once, at most
 * ({@code holdfast.store.catch-ups-max}). Each catch-up has one chunk of records in flight, so this
 * bounds what a node rejoining with many streams asks of its peers and holds in its heap; the rest
 * wait their turn (each asks again on its tick).
 */
public final class CatchUps implements Extension {
  public static final class Id extends ExtensionId<CatchUps> {
    @Override
    public CatchUps createExtension(ActorSystem<?> system) {
      return new CatchUps(system.settings().config().getInt("holdfast.store.catch-ups-max"));
    }
  }

  private static final Id ID = new Id();

  public static CatchUps get(ActorSystem<?> system) {
    return ID.apply(system);
  }

  private final int max;
  private final AtomicInteger running = new AtomicInteger();

  CatchUps(int max) {
    if (max < 1) {
      throw new IllegalArgumentException("holdfast.store.catch-ups-max must be at least 1, got " + max);
    }
    this.max = max;
  }

  boolean tryStart() {
    while (true) {
      int now = running.get();
      if (now >= max) {
        return false;
      }
      if (running.compareAndSet(now, now + 1)) {
        return true;
      }
    }
  }

  void end() {
    running.decrementAndGet();
  }
}

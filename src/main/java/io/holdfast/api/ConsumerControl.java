package io.holdfast.api;

import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.stream.UniqueKillSwitch;

/**
 * The materialized value of a consumer's {@code Source}: {@link #stop()} ends the stream (what was
 * delivered and not acked is redelivered after ack_wait, to this or another subscriber);
 * {@link #done()} completes when the stream has ended, failed if it failed.
 */
public final class ConsumerControl {
  private final UniqueKillSwitch killSwitch;
  private final CompletionStage<Done> done;

  ConsumerControl(UniqueKillSwitch killSwitch, CompletionStage<Done> done) {
    this.killSwitch = killSwitch;
    this.done = done;
  }

  public void stop() {
    killSwitch.shutdown();
  }

  public CompletionStage<Done> done() {
    return done;
  }
}

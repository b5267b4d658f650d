package io.holdfast.api;

import io.holdfast.stream.ConsumerConfig;
import io.holdfast.stream.ConsumerInfo;
import io.holdfast.stream.StreamCommand;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * A stream's consumers ({@code Holdfast.get(system).consumers()}). A consumer lives in its
 * stream's replica group: its configuration, deliveries and acks are replicated with the stream,
 * so it survives restarts and failover. Creating the same consumer again is a no-op; with another
 * configuration it fails with {@link HoldfastException.Conflict} ({@code consumer_exists}).
 */
public final class Consumers {
  private final Holdfast holdfast;

  Consumers(Holdfast holdfast) {
    this.holdfast = holdfast;
  }

  public CompletionStage<ConsumerInfo> create(String stream, ConsumerConfig config) {
    String bad = config.invalid();
    if (bad != null) {
      return CompletableFuture.failedFuture(new HoldfastException.BadRequest("bad_consumer", bad));
    }
    return holdfast.streamOp(stream, new StreamCommand.AddConsumer(config, 0))
        .thenCompose(x -> info(stream, config.name()));
  }

  public CompletionStage<ConsumerInfo> info(String stream, String name) {
    return holdfast.consumerInfos(stream, name).thenApply(found -> {
      if (found.isEmpty()) {
        throw new HoldfastException.NotFound("no_consumer", "stream " + stream + " has no consumer " + name);
      }
      return found.get(0);
    });
  }

  public CompletionStage<List<ConsumerInfo>> list(String stream) {
    return holdfast.consumerInfos(stream, null);
  }

  /** Deletes the consumer; its unacked messages are no longer waited for (interest retention may remove them). */
  public CompletionStage<Done> delete(String stream, String name) {
    return holdfast.streamOp(stream, new StreamCommand.DeleteConsumer(name)).thenApply(x -> Done.getInstance());
  }
}

package io.holdfast.persistence;

import com.typesafe.config.Config;
import io.holdfast.api.Holdfast;
import io.holdfast.api.HoldfastException;
import io.holdfast.api.Records;
import io.holdfast.stream.StreamLimits;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.Done;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.persistence.state.javadsl.DurableStateUpdateStore;
import org.apache.pekko.persistence.state.javadsl.GetObjectResult;

/**
 * The durable state store ({@code holdfast.persistence.state}, through {@link
 * HoldfastDurableStateStoreProvider}): each persistence id's state is the newest message on
 * {@code <prefix>.<persistence id>} of the state stream, created with max_msgs_per_subject 1 so
 * that older revisions go as new ones land. The revision is a header; a deletion is a message
 * without payload marked {@value #DELETED} (so the revision goes on from it).
 *
 * <p>An upsert of revision r needs the stored revision to be r - 1, and carries the stream
 * sequence of the message that revision was read from as its expected last subject sequence: a
 * concurrent writer's upsert in between fails this one on the leader, not just in this node's
 * view. Like the journal, the store remembers each id's last revision and sequence from its own
 * reads and writes; when a revision does not follow the remembered one, it reads the stored one
 * before refusing.
 */
public final class HoldfastDurableStateStore implements DurableStateUpdateStore<Object> {
  static final String REVISION = "Pekko-Revision";
  static final String DELETED = "Pekko-Deleted";

  private final PluginStream stream;
  private final EventCodec codec;
  private final Map<String, Current> known = new ConcurrentHashMap<>();

  /** What is stored for an id: its revision and the stream sequence of that message (0, 0: nothing). */
  private record Current(long revision, long seq) {}

  HoldfastDurableStateStore(ExtendedActorSystem system, Config config) {
    this.stream = new PluginStream(Holdfast.get(Adapter.toTyped(system)), config,
        StreamLimits.DEFAULT.withMaxMsgsPerSubject(1));
    this.codec = new EventCodec(system);
  }

  private static long revision(Records.StreamMessage m) {
    return Long.parseLong(EventCodec.header(m, REVISION, "0"));
  }

  @Override
  public CompletionStage<GetObjectResult<Object>> getObject(String persistenceId) {
    return stream.newest(stream.subject(null, persistenceId)).thenApply(found -> {
      if (found.isEmpty()) {
        known.put(persistenceId, new Current(0, 0));
        return new GetObjectResult<>(Optional.empty(), 0);
      }
      Records.StreamMessage m = found.get();
      known.put(persistenceId, new Current(revision(m), m.seq()));
      boolean deleted = m.headers().containsKey(DELETED);
      return new GetObjectResult<>(deleted ? Optional.empty() : Optional.of(codec.decode(m)), revision(m));
    });
  }

  private CompletionStage<Current> current(String id) {
    Current c = known.get(id);
    if (c != null) {
      return CompletableFuture.completedFuture(c);
    }
    return getObject(id).thenApply(r -> known.get(id));
  }

  @Override
  public CompletionStage<Done> upsertObject(String persistenceId, long revision, Object value, String tag) {
    TreeMap<String, List<String>> headers = new TreeMap<>();
    headers.put(REVISION, List.of(Long.toString(revision)));
    EventCodec.put(headers, EventCodec.TAG, tag);
    Records.Outgoing out;
    try {
      out = codec.encode(stream.subject(null, persistenceId), value, headers);
    } catch (Exception e) {
      return CompletableFuture.failedFuture(e);
    }
    return write(persistenceId, revision, out);
  }

  @Override
  public CompletionStage<Done> deleteObject(String persistenceId, long revision) {
    TreeMap<String, List<String>> headers = new TreeMap<>();
    headers.put(REVISION, List.of(Long.toString(revision)));
    headers.put(DELETED, List.of("true"));
    return write(persistenceId, revision, new Records.Outgoing(stream.subject(null, persistenceId), headers, new byte[0]));
  }

  /** Deletes without a revision check (deprecated in Pekko): every stored revision of the id goes. */
  @Override
  @Deprecated
  public CompletionStage<Done> deleteObject(String persistenceId) {
    known.remove(persistenceId);
    return stream.ready().thenCompose(v -> stream.holdfast.purgeStream(stream.name, stream.subject(null, persistenceId),
        0, 0)).thenApply(n -> Done.getInstance());
  }

  private CompletionStage<Done> write(String id, long revision, Records.Outgoing out) {
    boolean remembered = known.containsKey(id);
    return stream.ready().thenCompose(v -> current(id)).thenCompose(c -> {
      if (revision != c.revision() + 1) {
        known.remove(id);
        if (remembered) {
          return write(id, revision, out); // what this store remembered may be behind: decide on what is stored
        }
        return CompletableFuture.failedFuture(new IllegalStateException("persistence id " + id + " is at revision "
            + c.revision() + "; revision " + revision + " cannot follow it"));
      }
      return stream.holdfast.publish(out.subject(), out.headers(), out.payload(), new Records.PublishOptions(null, null,
          null, c.seq(), null)).handle((ack, failure) -> {
            if (failure != null) {
              known.remove(id);
              throw new java.util.concurrent.CompletionException(HoldfastException.unwrap(failure));
            }
            known.put(id, new Current(revision, ack.seq()));
            return Done.getInstance();
          });
    });
  }
}

package io.holdfast.persistence;

import com.typesafe.config.Config;
import io.holdfast.api.Holdfast;
import io.holdfast.api.HoldfastException;
import io.holdfast.api.Records;
import io.holdfast.meta.MetaState;
import io.holdfast.stream.StreamLimits;
import io.holdfast.stream.Subjects;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/**
 * The stream one plugin keeps its data in, from the plugin's config block: {@code stream} (its
 * name), {@code subject-prefix} (it captures {@code <prefix>.>}), {@code replicas}, and
 * {@code ready-timeout}. The stream is created on first use with no limits (a journal must not
 * lose events to max_age or max_msgs; durable state keeps the newest message per subject); an existing stream of that name is used as it is, so an
 * operator may create it beforehand with other settings.
 *
 * <p>A persistence id becomes one subject token: letters, digits and {@code -_|:@=+,;!~()} stay as
 * they are, every other character (the subject separators {@code . * >}, whitespace, {@code %},
 * non-ASCII) is written as {@code %XX} per UTF-8 byte. So {@code "ShoppingCart|cart-1"} is the
 * token {@code ShoppingCart|cart-1} and {@code "a.b c"} is {@code a%2Eb%20c}; the mapping is one
 * to one, and {@link #persistenceId} reverses it.
 */
final class PluginStream {
  final Holdfast holdfast;
  final String name;
  final String prefix;
  private final int replicas;
  private final Duration readyTimeout;
  private final StreamLimits limits;
  private volatile CompletableFuture<Void> created;

  PluginStream(Holdfast holdfast, Config config) {
    this(holdfast, config, StreamLimits.DEFAULT);
  }

  /** With the limits the stream is created with (durable state keeps one message per subject). */
  PluginStream(Holdfast holdfast, Config config, StreamLimits limits) {
    this.holdfast = holdfast;
    this.limits = limits;
    this.name = config.getString("stream");
    this.prefix = config.getString("subject-prefix");
    this.replicas = config.getInt("replicas");
    this.readyTimeout = config.getDuration("ready-timeout");
    if (Subjects.invalidSubject(prefix) != null) {
      throw new IllegalArgumentException("subject-prefix: " + Subjects.invalidSubject(prefix));
    }
    String bad = MetaState.invalid(new MetaState.CreateStream(name, List.of(prefix + ".>"), replicas,
        StreamLimits.DEFAULT));
    if (bad != null) {
      throw new IllegalArgumentException(bad);
    }
  }

  /** The subject {@code <prefix>.<kind>.<token of persistenceId>} (kind null: no kind token). */
  String subject(String kind, String persistenceId) {
    return prefix + "." + (kind == null ? "" : kind + ".") + token(persistenceId);
  }

  /** Completes once the stream exists (created here if it did not); waits for the cluster up to ready-timeout. */
  CompletionStage<Void> ready() {
    CompletableFuture<Void> c = created;
    if (c != null && !c.isCompletedExceptionally()) {
      return c;
    }
    synchronized (this) {
      if (created == null || created.isCompletedExceptionally()) {
        long deadline = System.nanoTime() + readyTimeout.toNanos();
        created = retrying(() -> holdfast.streamInfo(name).<Void>thenApply(i -> null).exceptionallyCompose(e -> {
          if (HoldfastException.unwrap(e) instanceof HoldfastException.NotFound) {
            Records.StreamConfig config = new Records.StreamConfig(name, List.of(prefix + ".>"), replicas, limits);
            return holdfast.createStream(config).<Void>thenApply(i -> null).exceptionallyCompose(f ->
                HoldfastException.unwrap(f) instanceof HoldfastException h && h.code().equals(MetaState.EXISTS)
                    ? CompletableFuture.completedFuture(null) : CompletableFuture.failedFuture(f)); // created meanwhile
          }
          return CompletableFuture.failedFuture(e);
        }), deadline).toCompletableFuture();
      }
      return created;
    }
  }

  /**
   * {@code attempt} again (every 200 ms) while it fails as unavailable — the cluster is forming, a
   * leader is being elected — until {@code deadlineNanos}. Only for what is safe to repeat.
   */
  <T> CompletionStage<T> retrying(Supplier<CompletionStage<T>> attempt, long deadlineNanos) {
    return attempt.get().exceptionallyCompose(e -> {
      if (!(HoldfastException.unwrap(e) instanceof HoldfastException.Unavailable) || System.nanoTime() > deadlineNanos) {
        return CompletableFuture.failedFuture(e);
      }
      CompletableFuture<T> again = new CompletableFuture<>();
      CompletableFuture.delayedExecutor(200, java.util.concurrent.TimeUnit.MILLISECONDS).execute(() ->
          retrying(attempt, deadlineNanos).whenComplete((v, f) -> {
            if (f != null) {
              again.completeExceptionally(f);
            } else {
              again.complete(v);
            }
          }));
      return again;
    });
  }

  /** A read, after the stream exists, repeated while the stream is briefly unavailable. */
  <T> CompletionStage<T> read(Supplier<CompletionStage<T>> read) {
    return ready().thenCompose(v -> retrying(read, System.nanoTime() + readyTimeout.toNanos()));
  }

  /** The newest message on {@code subject}, if there is one. */
  CompletionStage<java.util.Optional<Records.StreamMessage>> newest(String subject) {
    return read(() -> holdfast.getLastFor(name, subject)
        .thenApply(java.util.Optional::of)
        .exceptionally(e -> {
          if (HoldfastException.unwrap(e) instanceof HoldfastException.NotFound) {
            return java.util.Optional.empty();
          }
          throw new java.util.concurrent.CompletionException(HoldfastException.unwrap(e));
        }));
  }

  private static final String KEPT = "-_|:@=+,;!~()";

  static String token(String persistenceId) {
    if (persistenceId == null || persistenceId.isEmpty()) {
      throw new IllegalArgumentException("a persistence id must not be empty");
    }
    StringBuilder out = new StringBuilder(persistenceId.length());
    for (byte b : persistenceId.getBytes(StandardCharsets.UTF_8)) {
      char c = (char) (b & 0xff);
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || KEPT.indexOf(c) >= 0) {
        out.append(c);
      } else {
        out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
            .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
      }
    }
    return out.toString();
  }

  /** The persistence id a subject's last token stands for. */
  static String persistenceId(String subject) {
    String token = subject.substring(subject.lastIndexOf('.') + 1);
    byte[] out = new byte[token.length()];
    int n = 0;
    for (int i = 0; i < token.length(); i++) {
      char c = token.charAt(i);
      if (c == '%' && i + 2 < token.length()) {
        out[n++] = (byte) Integer.parseInt(token.substring(i + 1, i + 3), 16);
        i += 2;
      } else {
        out[n++] = (byte) c;
      }
    }
    return new String(out, 0, n, StandardCharsets.UTF_8);
  }
}

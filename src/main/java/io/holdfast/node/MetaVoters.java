package io.holdfast.node;

import io.holdfast.meta.MetaState;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Which nodes hold the meta group's votes, as this node knows it: the configured
 * {@code holdfast.meta.voters} until the meta group changes them ({@link MetaState.SetMetaVoters},
 * which {@code holdfast cluster drain} proposes), then the latest committed voters it has seen.
 *
 * <p>A server node keeps what it learned in {@code DATA/meta-voters} (written whole, fsynced and
 * renamed), so that after a restart it still finds the meta group, and a node given a vote by a
 * change joins as a new member instead of bootstrapping from the configured list. Why a file and
 * not only the meta group: a node that restarts must know whom to ask before it can ask; the
 * configured list alone may name only nodes that have since been drained and retired. Thread-safe:
 * the meta watcher writes it, the node's actors and the API read it.
 */
public final class MetaVoters {
  static final String FILE = "meta-voters";

  private final List<Integer> configured;
  private final Path file;
  private volatile Known known;

  private record Known(long index, List<Integer> voters) {}

  private MetaVoters(List<Integer> configured, Path file, Known known) {
    this.configured = List.copyOf(configured);
    this.file = file;
    this.known = known;
  }

  /** For a server node: what its data directory remembers, else {@code configured}. */
  public static MetaVoters open(List<Integer> configured, String dataDir) {
    Path file = Path.of(dataDir, FILE);
    Known known = new Known(-1, List.copyOf(configured));
    if (Files.exists(file)) {
      try {
        String[] parts = Files.readString(file, StandardCharsets.US_ASCII).trim().split(" ");
        List<Integer> voters = Arrays.stream(parts[1].split(",")).map(Integer::parseInt).toList();
        known = new Known(Long.parseLong(parts[0]), voters);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + file, e);
      } catch (RuntimeException e) {
        throw new IllegalStateException(file + " is damaged (" + e.getMessage() + "): it should read"
            + " '<meta index> <voter>,<voter>,...'; delete it to fall back to holdfast.meta.voters", e);
      }
    }
    return new MetaVoters(configured, file, known);
  }

  /** For an application node: it keeps nothing, and learns the voters from the views it reads. */
  public static MetaVoters inMemory(List<Integer> configured) {
    return new MetaVoters(configured, null, new Known(-1, List.copyOf(configured)));
  }

  /** The nodes that hold a meta vote, as far as this node knows. */
  public List<Integer> current() {
    return known.voters();
  }

  /** The configured {@code holdfast.meta.voters}. */
  public List<Integer> configured() {
    return configured;
  }

  /**
   * Whether this node may bootstrap the meta group with the configured voters when it has no meta
   * log: only while no change of voters is known to it. Otherwise it joins as a learner.
   */
  public boolean bootstrapsFromConfig() {
    return known.index() < 0;
  }

  /**
   * Takes the voters of a newer committed view (a view without a change says nothing: the
   * voters never go back to the configured ones once changed). Returns whether they changed.
   */
  public synchronized boolean learn(MetaState view) {
    List<Integer> voters = view.metaVoters();
    if (voters.isEmpty() || view.appliedIndex() <= known.index() || voters.equals(known.voters())) {
      return false;
    }
    Known next = new Known(view.appliedIndex(), voters);
    if (file != null) {
      write(next);
    }
    known = next;
    return true;
  }

  private void write(Known k) {
    Path tmp = file.resolveSibling(FILE + ".tmp");
    String text = k.index() + " " + k.voters().stream().map(String::valueOf).collect(Collectors.joining(",")) + "\n";
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING)) {
        ch.write(java.nio.ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII)));
        ch.force(true);
      }
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
        dir.force(true);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }
}

package io.holdfast.torture;

import io.holdfast.storage.file.Reclaimer;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Damage to the data files of a minority, while it is down: {@code bitflip} (1–8 random bits in
 * random files), {@code truncate} (the end of one random file cut by 1 byte to 4 KiB),
 * {@code snapshot-corrupt} (bytes flipped in every snapshot file and in the identity file). Half
 * the files bitflip and truncate hit are a stream store's segment or index files (either kind
 * alike), the rest any file weighted by size (WAL files, snapshots, identity, tail marker, store
 * files). Damage stays on a minority: none lands while a node already refused to open, may be
 * about to, or is still recovering what a cut-off tail took. Whether the victims open again is
 * noticed before the next fault.
 */
final class DiskDamageFault implements Fault {
  enum Kind {
    BITFLIP("bitflip"), TRUNCATE("truncate"), SNAPSHOT_CORRUPT("snapshot-corrupt");

    final String cliName;

    Kind(String cliName) {
      this.cliName = cliName;
    }
  }

  private final Kind kind;

  DiskDamageFault(Kind kind) {
    this.kind = kind;
  }

  @Override
  public String name() {
    return kind.cliName;
  }

  @Override
  public String inject(Campaign c) throws Exception {
    int minority = (c.cluster.nodes.size() - 1) / 2;
    List<Integer> live = c.live();
    if (c.refused.size() >= minority || live.stream().anyMatch(id -> !c.recovered(id))) {
      return null;
    }
    List<Integer> victims = new ArrayList<>(live);
    c.prng.shuffle(victims);
    victims = new ArrayList<>(victims.subList(0, 1 + c.prng.nextInt(minority - c.refused.size())));
    List<String> done = new ArrayList<>();
    for (int v : victims) {
      c.cluster.kill(v);
      c.down.add(v);
      done.add("node " + v + ": " + damage(c, c.dataDir(v)));
    }
    c.restart(victims, false);
    return kind.cliName + " " + String.join("; ", done);
  }

  /** Whether {@code p} is, or lies in, something the node discarded: garbage, never read again. */
  private static boolean discarded(Path p) {
    for (Path name : p) {
      if (Reclaimer.isDiscarded(name.toString())) {
        return true;
      }
    }
    return false;
  }

  private String damage(Campaign c, Path data) throws IOException {
    List<Path> files = new ArrayList<>();
    if (Files.isDirectory(data)) {
      try (var s = Files.walk(data)) {
        s.filter(Files::isRegularFile).filter(p -> {
          try {
            return Files.size(p) > 0 && !discarded(data.relativize(p));
          } catch (IOException e) {
            return false;
          }
        }).sorted().forEach(files::add);
      }
    }
    if (files.isEmpty()) {
      return "no data files yet";
    }
    switch (kind) {
      case BITFLIP -> {
        List<String> flipped = new ArrayList<>();
        for (int i = c.prng.between(1, 8); i > 0; i--) {
          Path f = target(c, files);
          long at = c.prng.nextLong(Files.size(f));
          flip(f, at, 1 << c.prng.nextInt(8));
          flipped.add(data.relativize(f) + "@" + at);
        }
        return "flipped " + String.join(", ", flipped);
      }
      case TRUNCATE -> {
        Path f = target(c, files);
        long size = Files.size(f);
        long cut = Math.min(size, c.prng.between(1, 4096));
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
          r.setLength(size - cut);
        }
        return "cut " + cut + " bytes off " + data.relativize(f);
      }
      default -> {
        List<String> hit = new ArrayList<>();
        for (Path f : files) {
          String name = data.relativize(f).toString();
          if (name.startsWith("snapshots") || name.equals("holdfast.id")) {
            for (int i = 0; i < 4; i++) {
              flip(f, c.prng.nextLong(Files.size(f)), 0xff);
            }
            hit.add(name);
          }
        }
        return hit.isEmpty() ? "no snapshot or identity file yet" : "corrupted " + String.join(", ", hit);
      }
    }
  }

  /** A file to damage: half the time a store's segment or index file (if there is one), else any. */
  private static Path target(Campaign c, List<Path> files) throws IOException {
    if (c.prng.nextInt(2) == 0) {
      String suffix = c.prng.nextInt(2) == 0 ? ".seg" : ".idx";
      List<Path> store = files.stream().filter(f -> f.getFileName().toString().endsWith(suffix)).toList();
      if (!store.isEmpty()) {
        return store.get(c.prng.nextInt(store.size()));
      }
    }
    return weightedBySize(c, files);
  }

  private static Path weightedBySize(Campaign c, List<Path> files) throws IOException {
    long[] sizes = new long[files.size()];
    long total = 0;
    for (int i = 0; i < sizes.length; i++) {
      sizes[i] = Files.size(files.get(i));
      total += sizes[i];
    }
    long pick = c.prng.nextLong(total);
    for (int i = 0; i < sizes.length; i++) {
      pick -= sizes[i];
      if (pick < 0) {
        return files.get(i);
      }
    }
    return files.get(files.size() - 1);
  }

  private static void flip(Path f, long at, int mask) throws IOException {
    try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
      r.seek(at);
      int b = r.read();
      r.seek(at);
      r.write(b ^ mask);
    }
  }
}

package io.holdfast.cli;

import io.holdfast.local.LocalCluster;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Three nats-server processes with JetStream on file storage, clustered on loopback: the peer that
 * {@code bench nats --peer} drives with the same client and workload in the same run, so that a
 * figure is never set beside one measured on another day or another disk load. nats-server is
 * found on the PATH (Debian: {@code apt-get install nats-server}); its defaults are kept (it acks
 * before fsync, {@code sync_interval} 2 minutes), because that is what the comparison is about.
 */
final class NatsServerCluster implements AutoCloseable {
  private final List<Process> processes = new ArrayList<>();
  final List<String> urls = new ArrayList<>();

  private NatsServerCluster() {}

  /** Fails with a usage error unless {@code nats-server} runs: checked before a run, not after its first half. */
  static void requireInstalled() throws InterruptedException {
    try {
      Process p = new ProcessBuilder("nats-server", "--version").redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      if (!p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new UsageException("--peer: 'nats-server --version' did not answer within 10 s");
      }
      if (p.exitValue() != 0) {
        throw new UsageException("--peer: 'nats-server --version' failed (exit " + p.exitValue() + ")");
      }
    } catch (IOException e) {
      throw new UsageException(NOT_INSTALLED + e.getMessage());
    }
  }

  private static final String NOT_INSTALLED = "--peer needs nats-server on the PATH (Debian: apt-get install"
      + " nats-server): ";

  /** Starts the three servers under {@code dir} and waits until each takes connections. */
  static NatsServerCluster start(Path dir, PrintStream err) throws IOException, InterruptedException {
    NatsServerCluster c = new NatsServerCluster();
    try {
      int[] client = new int[3];
      int[] route = new int[3];
      for (int i = 0; i < 3; i++) {
        client[i] = LocalCluster.freePort("127.0.0.1");
        route[i] = LocalCluster.freePort("127.0.0.1");
      }
      StringBuilder routes = new StringBuilder();
      for (int i = 0; i < 3; i++) {
        routes.append(i == 0 ? "" : ", ").append("nats-route://127.0.0.1:").append(route[i]);
      }
      for (int i = 0; i < 3; i++) {
        Path home = dir.resolve("n" + (i + 1));
        Files.createDirectories(home);
        Path conf = home.resolve("nats.conf");
        Files.writeString(conf, """
            server_name: n%d
            listen: 127.0.0.1:%d
            jetstream { store_dir: "%s" }
            cluster { name: bench, listen: 127.0.0.1:%d, routes: [%s] }
            """.formatted(i + 1, client[i], home.resolve("js"), route[i], routes));
        ProcessBuilder pb = new ProcessBuilder("nats-server", "-c", conf.toString());
        pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(home.resolve("nats.log").toFile()));
        try {
          c.processes.add(pb.start());
        } catch (IOException e) {
          throw new UsageException(NOT_INSTALLED + e.getMessage());
        }
        c.urls.add("nats://127.0.0.1:" + client[i]);
      }
      long deadline = System.nanoTime() + 30_000_000_000L;
      for (int i = 0; i < 3; i++) {
        while (!accepts(client[i])) {
          Process p = c.processes.get(i);
          if (!p.isAlive() || System.nanoTime() > deadline) {
            throw new IOException("nats-server n" + (i + 1) + " did not start; see " + dir.resolve("n" + (i + 1))
                .resolve("nats.log"));
          }
          Thread.sleep(100); // polling a port that is not open yet: nothing to wait on but time
        }
      }
      err.printf("bench nats: nats-server cluster up at %s%n", c.urls);
      return c;
    } catch (IOException | InterruptedException | RuntimeException e) {
      c.close();
      throw e;
    }
  }

  private static boolean accepts(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 500);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  List<Long> pids() {
    return processes.stream().map(Process::pid).toList();
  }

  @Override
  public void close() {
    for (Process p : processes) {
      p.destroy();
    }
    for (Process p : processes) {
      try {
        if (!p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }
}

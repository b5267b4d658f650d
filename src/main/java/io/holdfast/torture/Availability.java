package io.holdfast.torture;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.local.LocalCluster;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

/**
 * How long the stream was unavailable when it should not have been: every 250 ms, whether a
 * majority of the stream's nodes is up (its process runs, is not paused, and its HTTP port takes
 * connections) and connected (no partition between them); while that holds, the time since the later
 * of the last ack and the moment it began to hold is an unavailable stretch. The longest is
 * {@code max_unavailable_s}; stretches over a second are kept for the report.
 */
final class Availability {
  /** Stretches shorter than this are not listed (they are not faults' doing: batching, a GC). */
  static final double LISTED_S = 1.0;
  private static final long SAMPLE_MILLIS = 250;
  private static final ObjectMapper JSON = new ObjectMapper();

  /** A stretch without an ack while a majority was up and connected, in seconds since the start. */
  record Stretch(double start, double end) {}

  private final Campaign campaign;
  /** When the last publish was acked (nanoTime); the workload sets it. */
  final AtomicLong lastAck = new AtomicLong(System.nanoTime());
  private final List<Stretch> stretches = new ArrayList<>();
  private volatile boolean stopped;
  private double maxGap;
  /** Seconds during which a majority was up and connected (sampled). */
  private double majorityUpSeconds;
  private Thread thread;
  private List<Integer> placement = List.of();

  Availability(Campaign campaign) {
    this.campaign = campaign;
  }

  void start() {
    lastAck.set(System.nanoTime());
    thread = new Thread(this::run, "torture-availability");
    thread.setDaemon(true);
    thread.start();
  }

  void stop() throws InterruptedException {
    stopped = true;
    thread.join();
  }

  /** The longest stretch without an ack while a majority was up and connected, in seconds, to a tenth. */
  synchronized double maxUnavailableSeconds() {
    return Math.round(maxGap * 10) / 10.0;
  }

  /**
   * How long a majority of the stream's nodes was up and connected: what the faults left to serve
   * in. No run can ack for longer, so it bounds what a run can ack against the no-fault baseline.
   */
  synchronized double majorityUpSeconds(int runSeconds) {
    return Math.round(Math.min(runSeconds, majorityUpSeconds) * 10) / 10.0; // not the drain after the run
  }

  synchronized List<Stretch> stretches() {
    return List.copyOf(stretches);
  }

  private void run() {
    long since = -1; // when a majority became up and connected; -1 while it is not
    double openStart = -1;
    double openEnd = -1;
    long lastPlacement = 0;
    long lastSample = System.nanoTime();
    while (!stopped) {
      if (System.nanoTime() - lastPlacement > 5_000_000_000L) {
        placement = currentPlacement().orElse(placement);
        lastPlacement = System.nanoTime();
      }
      boolean expected = majorityUpAndConnected();
      long now = System.nanoTime();
      synchronized (this) {
        if (expected) {
          majorityUpSeconds += since < 0 ? 0 : (now - lastSample) / 1e9; // held since the last sample
          since = since < 0 ? now : since;
          long from = Math.max(lastAck.get(), since);
          double gap = (now - from) / 1e9;
          maxGap = Math.max(maxGap, gap);
          if (gap > LISTED_S) {
            openStart = campaign.secondsAt(from);
            openEnd = campaign.secondsAt(now);
          } else if (openStart >= 0) {
            stretches.add(new Stretch(openStart, openEnd));
            openStart = -1;
          }
        } else {
          since = -1;
          if (openStart >= 0) {
            stretches.add(new Stretch(openStart, openEnd));
            openStart = -1;
          }
        }
      }
      lastSample = now;
      Campaign.sleepMillis(SAMPLE_MILLIS); // a sampling period
    }
    synchronized (this) {
      if (openStart >= 0) {
        stretches.add(new Stretch(openStart, openEnd));
      }
    }
  }

  /** Whether a majority of the stream's nodes is up (running, not paused, answering) and can reach each other. */
  private boolean majorityUpAndConnected() {
    List<Integer> nodes = placement.isEmpty() ? campaign.allIds() : placement;
    List<Integer> up = new ArrayList<>();
    for (int id : nodes) {
      Optional<Long> pid = campaign.cluster.pid(id);
      if (pid.isPresent() && !paused(pid.get()) && listening(campaign.cluster.node(id))) {
        up.add(id);
      }
    }
    return Network.largestConnected(up) >= nodes.size() / 2 + 1;
  }

  /** The stream's nodes as the first node to answer within a second has them. */
  private Optional<List<Integer>> currentPlacement() {
    for (LocalCluster.Node node : campaign.cluster.nodes) {
      try {
        HttpResponse<String> r = campaign.http.send(HttpRequest.newBuilder(URI.create(node.http() + "/streams/"
            + Campaign.STREAM)).timeout(Duration.ofSeconds(1)).build(), HttpResponse.BodyHandlers.ofString());
        List<Integer> ids = Campaign.placement(JSON.readTree(r.body()));
        if (r.statusCode() == 200 && !ids.isEmpty()) {
          return Optional.of(ids);
        }
      } catch (Exception e) {
        // the next node
      }
    }
    return Optional.empty();
  }

  /** Whether the node's HTTP port takes connections: its process got as far as starting its services. */
  private static boolean listening(LocalCluster.Node node) {
    URI uri = URI.create(node.http());
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(uri.getHost(), uri.getPort()), 500);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** Whether process {@code pid} is stopped (SIGSTOP: state T in /proc/PID/stat). */
  private static boolean paused(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      int close = stat.lastIndexOf(')');
      return close > 0 && close + 2 < stat.length() && stat.charAt(close + 2) == 'T';
    } catch (Exception e) {
      return false;
    }
  }
}

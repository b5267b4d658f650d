package io.holdfast.torture;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.local.LocalCluster;
import io.holdfast.local.NodeClient;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/**
 * The campaign's clients, and the history they record. Publishers send unique values
 * {@code <client>-<counter>} at a steady rate, at most {@value #INFLIGHT_PER_CLIENT} in flight per
 * client, each client through one node until a request there fails, and record what was acked and at which sequence; two readers pull from a durable
 * consumer on node after node and ack what they get.
 *
 * <p>Client rules: a publish refused as {@code unavailable} (nothing appended: no leader known, the
 * cluster forming) or that could not connect is retried, with the same value, for 20 s; then it
 * counts as {@code unavailable} ({@link #failed}), known not stored. Only a publish that was sent
 * and not answered — {@code outcome_unknown}, or no HTTP answer in 6 s — is {@link #unknown}; it
 * is not retried, so a value at two sequences is never explained by a retry: it counts as a
 * duplicate.
 */
final class Workload {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int CLIENTS = 8;
  private static final int INFLIGHT_PER_CLIENT = 16;
  /**
   * A publish not answered in this long is given up as unknown: the nodes answer within their
   * request timeout (5 s), so only a paused or cut-off node's requests take longer.
   */
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(6);

  private final Campaign campaign;
  final ConcurrentHashMap<String, Long> acked = new ConcurrentHashMap<>();
  final Set<String> unknown = ConcurrentHashMap.newKeySet();
  final Set<String> attempted = ConcurrentHashMap.newKeySet();
  final AtomicLong published = new AtomicLong();
  final AtomicLong failed = new AtomicLong();
  final AtomicLong consumed = new AtomicLong();
  final AtomicBoolean stopped = new AtomicBoolean();
  private final AtomicBoolean publishing = new AtomicBoolean(true);
  /** Per second since the start: the latencies, in microseconds, of the publishes acked in that second. */
  final ConcurrentHashMap<Integer, Histogram> latencies = new ConcurrentHashMap<>();
  private final List<Thread> threads = new ArrayList<>();
  /** The node each client is connected to (an index, taken modulo the node count); moves on failures. */
  private final AtomicIntegerArray nodeOf = new AtomicIntegerArray(CLIENTS);

  Workload(Campaign campaign) {
    this.campaign = campaign;
    for (int c = 0; c < CLIENTS; c++) {
      nodeOf.set(c, c);
    }
  }

  /** Starts the publishers at {@code rate} publishes per second, and the readers. */
  void start(int rate) {
    threads.add(started(new Thread(() -> publishers(rate), "torture-publishers")));
    for (int i = 0; i < 2; i++) {
      int reader = i;
      threads.add(started(new Thread(() -> reader(reader), "torture-reader-" + i)));
    }
  }

  /** Stops publishing, waits for the publishes in flight to be answered, then stops the readers. */
  void stop() throws InterruptedException {
    publishing.set(false);
    threads.get(0).join();
    stopped.set(true);
    for (Thread t : threads) {
      t.join(TimeUnit.SECONDS.toMillis(30));
    }
  }

  private static Thread started(Thread t) {
    t.setDaemon(true);
    t.start();
    return t;
  }

  private void publishers(int rate) {
    Semaphore[] windowOf = new Semaphore[CLIENTS];
    long[] counter = new long[CLIENTS];
    for (int c = 0; c < CLIENTS; c++) {
      windowOf[c] = new Semaphore(INFLIGHT_PER_CLIENT);
    }
    long sent = 0;
    int client = 0;
    while (publishing.get()) {
      long due = (long) (campaign.now() * rate);
      while (sent < due && publishing.get()) {
        client = (client + 1) % CLIENTS;
        if (!windowOf[client].tryAcquire()) {
          break; // this client has too much in flight (the cluster is slow or down): skip this slot
        }
        String value = client + "-" + (++counter[client]);
        attempted.add(value);
        published.incrementAndGet();
        Semaphore w = windowOf[client];
        publish(client, value, System.nanoTime()).whenComplete((v, e) -> w.release());
        sent++;
      }
      sent = Math.max(sent, due - rate); // never more than a second of backlog
      Campaign.sleepMillis(5);
    }
    for (Semaphore w : windowOf) {
      try {
        if (!w.tryAcquire(INFLIGHT_PER_CLIENT, 60, TimeUnit.SECONDS)) {
          campaign.err.println("torture: some publishes still unanswered after 60 s");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Client {@code client}'s publish of {@code value} through the node it is connected to; a client
   * whose request fails other than by a refusal, or is refused, moves to the next node (as a NATS
   * client reconnects elsewhere), so a paused or dead node holds up only the clients on it.
   */
  private CompletableFuture<Void> publish(int client, String value, long started) {
    List<LocalCluster.Node> nodes = campaign.cluster.nodes;
    int via = nodeOf.get(client);
    LocalCluster.Node node = nodes.get(Math.floorMod(via, nodes.size()));
    HttpRequest req = HttpRequest.newBuilder(URI.create(node.http() + "/pub/" + Campaign.STREAM + ".v"))
        .timeout(REQUEST_TIMEOUT).POST(HttpRequest.BodyPublishers.ofString(value)).build();
    return campaign.http.sendAsync(req, HttpResponse.BodyHandlers.ofString()).handle((resp, failure) -> {
      if (failure != null || resp.statusCode() != 200) {
        nodeOf.compareAndSet(client, via, via + 1); // the next node; once, however many requests failed here
      }
      boolean safeToRetry;
      if (failure != null) {
        // Only a connection that was never made is known not to have carried the request: refused,
        // or not made within the connect timeout (the node's listen backlog was full).
        safeToRetry = java.util.stream.Stream.of(failure, failure.getCause()).anyMatch(t ->
            t instanceof java.net.ConnectException || t instanceof java.net.http.HttpConnectTimeoutException);
      } else if (resp.statusCode() == 200) {
        try {
          acked.put(value, JSON.readTree(resp.body()).get("seq").asLong());
          campaign.availability.lastAck.set(System.nanoTime());
          latencies.computeIfAbsent((int) campaign.now(), k -> new ConcurrentHistogram(3))
              .recordValue((System.nanoTime() - started) / 1000);
        } catch (IOException e) {
          unknown.add(value);
        }
        return CompletableFuture.<Void>completedFuture(null);
      } else {
        safeToRetry = NodeClient.errorCode(resp.body()).equals("unavailable");
      }
      if (!safeToRetry) {
        unknown.add(value);
        return CompletableFuture.<Void>completedFuture(null);
      }
      if (System.nanoTime() - started > TimeUnit.SECONDS.toNanos(20) || stopped.get()) {
        failed.incrementAndGet(); // refused every time: known not stored
        return CompletableFuture.<Void>completedFuture(null);
      }
      return CompletableFuture.runAsync(() -> { }, CompletableFuture.delayedExecutor(50, TimeUnit.MILLISECONDS))
          .thenCompose(x -> publish(client, value, started));
    }).thenCompose(f -> f);
  }

  private void reader(int which) {
    int i = which;
    while (!stopped.get()) {
      LocalCluster.Node node = campaign.cluster.nodes.get(i++ % campaign.cluster.nodes.size());
      try {
        HttpResponse<String> r = campaign.http.send(HttpRequest.newBuilder(URI.create(node.http() + "/streams/"
            + Campaign.STREAM + "/consumers/" + Campaign.CONSUMER + "/next?batch=100&wait=1s"))
            .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.noBody()).build(),
            HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
          Campaign.sleepMillis(200);
          continue;
        }
        for (JsonNode m : JSON.readTree(r.body()).path("messages")) {
          consumed.incrementAndGet();
          campaign.http.sendAsync(HttpRequest.newBuilder(URI.create(node.http() + "/ack/"
              + m.path("ack_token").asText())).timeout(Duration.ofSeconds(10))
              .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());
        }
      } catch (IOException e) {
        Campaign.sleepMillis(200); // that node is down or cut off; the next one
      } catch (InterruptedException e) {
        return;
      }
    }
  }
}

package io.holdfast.torture;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.local.LocalCluster;
import io.holdfast.local.NodeClient;
import io.holdfast.nats.NatsNode;
import io.nats.client.Connection;
import io.nats.client.ConnectionListener;
import io.nats.client.ConsumerContext;
import io.nats.client.ErrorListener;
import io.nats.client.FetchConsumeOptions;
import io.nats.client.FetchConsumer;
import io.nats.client.JetStream;
import io.nats.client.JetStreamApiException;
import io.nats.client.Message;
import io.nats.client.Nats;
import io.nats.client.Options;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.stream.Stream;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/**
 * The campaign's clients, and the history they record. Publishers send unique values
 * {@code <client>-<counter>} at a steady rate, at most {@value #INFLIGHT_PER_CLIENT} in flight per
 * client, each client through one node until attempts there fail (over NATS: until that node has
 * acked nothing for 2 s), and record what was acked and at which sequence; two readers pull from
 * a durable consumer on node after node and ack what they get.
 *
 * <p>Clients are NATS applications by default (jnats, one connection each, JetStream publish and
 * pull fetches), as most users are; {@code --client http} uses the HTTP API instead.
 *
 * <p>Client rules: a publish refused before anything was stored ({@code unavailable}: no leader
 * known, the cluster forming; a NATS request no stream heard; a connection that was never made, or
 * jnats reconnecting) is retried, with the same value, for 20 s; then it counts as
 * {@code unavailable} ({@link #failed}), known not stored. Only a publish that was sent and not
 * answered — {@code outcome_unknown}, a lost connection, or no answer in 6 s — is {@link #unknown};
 * it is not retried, so a value at two sequences is never explained by a retry: it counts as a
 * duplicate.
 */
final class Workload {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int CLIENTS = 8;
  private static final int INFLIGHT_PER_CLIENT = 16;
  private static final int READERS = 2;
  /**
   * A publish not answered in this long is given up as unknown: the nodes answer within their
   * request timeout (5 s), so only a paused or cut-off node's requests take longer.
   */
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(6);
  /** How long a NATS client's node may ack nothing before the client moves on ({@link #servedOf}). */
  private static final long UNSERVED_NANOS = TimeUnit.SECONDS.toNanos(2);

  private final Campaign campaign;
  final ConcurrentHashMap<String, Long> acked = new ConcurrentHashMap<>();
  final Set<String> unknown = ConcurrentHashMap.newKeySet();
  final Set<String> attempted = ConcurrentHashMap.newKeySet();
  /** Values refused at least once before anything was stored, and why the last time (for the report). */
  final ConcurrentHashMap<String, String> retriedAfter = new ConcurrentHashMap<>();
  final AtomicLong published = new AtomicLong();
  final AtomicLong failed = new AtomicLong();
  final AtomicLong consumed = new AtomicLong();
  final AtomicBoolean stopped = new AtomicBoolean();
  private final AtomicBoolean publishing = new AtomicBoolean(true);
  /** Per second since the start: the latencies, in microseconds, of the publishes acked in that second. */
  final ConcurrentHashMap<Integer, Histogram> latencies = new ConcurrentHashMap<>();
  private final List<Thread> threads = new ArrayList<>();
  /**
   * Over HTTP, the node each client is connected to (an index, taken modulo the node count); over
   * NATS, how many times the client was sent to another node. Moves on failures.
   */
  private final AtomicIntegerArray nodeOf = new AtomicIntegerArray(CLIENTS);
  /** Readers' NATS connections, closed with the publishers'. */
  private final List<Connection> readerConnections = new ArrayList<>();
  /** Each client's NATS connection, and its JetStream context; null when publishing over HTTP. */
  private final Connection[] nats;
  private final JetStream[] jetStream;
  /**
   * Each client's NATS publishes awaiting their ack. When its connection drops, they are given up as
   * unknown at once: the node they went to can no longer answer on it, and waiting out their
   * timeout would hold the client's window for seconds.
   */
  private final List<Set<CompletableFuture<Attempt>>> awaiting = new ArrayList<>();
  /**
   * When each NATS client's connection last had a publish acked, or was (re)made. A client moves to
   * another node only once its node has acked nothing for {@link #UNSERVED_NANOS}: moving drops
   * the connection, and with it every publish awaiting its ack there (unknown), so a node that
   * answers one publish with an error while a new leader takes over (acks resume within ~2 s) is
   * kept; a node cut off from the majority is left.
   */
  private final AtomicLongArray servedOf = new AtomicLongArray(CLIENTS);
  /** Where clients' connections are told to move on ({@link Connection#forceReconnect} waits). */
  private final ExecutorService mover = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "torture-reconnects");
    t.setDaemon(true);
    return t;
  });

  Workload(Campaign campaign, boolean overNats) {
    this.campaign = campaign;
    for (int c = 0; c < CLIENTS; c++) {
      nodeOf.set(c, c);
      awaiting.add(ConcurrentHashMap.newKeySet());
    }
    nats = overNats ? new Connection[CLIENTS] : null;
    jetStream = overNats ? new JetStream[CLIENTS] : null;
  }

  /**
   * Client {@code c}'s NATS connection: to node c first, then the others in order, as an application
   * lists a cluster's servers. Pings every second, so a paused node is left within ~3 s; nothing is
   * queued while reconnecting (a publish then fails at once and is known not sent).
   */
  private Connection connect(int c) throws IOException, InterruptedException {
    List<LocalCluster.Node> nodes = campaign.cluster.nodes;
    String[] servers = new String[nodes.size()];
    for (int i = 0; i < servers.length; i++) {
      servers[i] = nodes.get((c + i) % nodes.size()).nats();
    }
    return Nats.connect(new Options.Builder().servers(servers).noRandomize().connectionName("torture-" + c)
        .connectionTimeout(Duration.ofSeconds(2)).pingInterval(Duration.ofSeconds(1)).maxPingsOut(2)
        .reconnectWait(Duration.ofMillis(100)).maxReconnects(-1).reconnectBufferSize(0)
        .requestCleanupInterval(REQUEST_TIMEOUT).errorListener(new ErrorListener() { })
        .connectionListener((conn, event) -> {
          if (event == ConnectionListener.Events.DISCONNECTED && c < CLIENTS) {
            awaiting.get(c).forEach(f -> f.complete(Attempt.UNKNOWN));
          } else if (event == ConnectionListener.Events.RECONNECTED && c < CLIENTS) {
            servedOf.set(c, System.nanoTime());
          }
        }).build());
  }

  /** Starts the publishers at {@code rate} publishes per second, and the readers. */
  void start(int rate) throws IOException, InterruptedException {
    if (nats != null) {
      for (int c = 0; c < CLIENTS; c++) {
        servedOf.set(c, System.nanoTime());
        nats[c] = connect(c);
        jetStream[c] = nats[c].jetStream();
      }
    }
    threads.add(started(new Thread(() -> publishers(rate), "torture-publishers")));
    for (int i = 0; i < READERS; i++) {
      int reader = i;
      Runnable r = nats != null ? natsReader(connect(CLIENTS + i)) : () -> reader(reader);
      threads.add(started(new Thread(r, "torture-reader-" + i)));
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
    close();
  }

  /** Closes the NATS connections (also when the campaign failed before {@link #stop}). */
  void close() throws InterruptedException {
    mover.shutdownNow();
    List<Connection> all = new ArrayList<>(readerConnections);
    all.addAll(nats == null ? List.of() : Arrays.asList(nats));
    for (Connection c : all) {
      if (c != null) {
        c.close();
      }
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
   * Client {@code client}'s publish of {@code value}, retried with the same value while it is
   * refused before anything was stored, for 20 s; a client whose attempt was not acked moves to the
   * next node, so a paused or dead node holds up only the clients on it.
   */
  private CompletableFuture<Void> publish(int client, String value, long started) {
    CompletableFuture<Attempt> attempt = nats != null ? viaNats(client, value) : viaHttp(client, value);
    return attempt.thenCompose(a -> {
      if (a.seq() > 0) {
        acked.put(value, a.seq());
        campaign.availability.lastAck.set(System.nanoTime());
        latencies.computeIfAbsent((int) campaign.now(), k -> new ConcurrentHistogram(3))
            .recordValue((System.nanoTime() - started) / 1000);
        return CompletableFuture.<Void>completedFuture(null);
      }
      if (!a.notStored()) {
        unknown.add(value);
        return CompletableFuture.<Void>completedFuture(null);
      }
      retriedAfter.put(value, a.why());
      if (System.nanoTime() - started > TimeUnit.SECONDS.toNanos(20) || stopped.get()) {
        failed.incrementAndGet(); // refused every time: known not stored
        return CompletableFuture.<Void>completedFuture(null);
      }
      return CompletableFuture.runAsync(() -> { }, CompletableFuture.delayedExecutor(50, TimeUnit.MILLISECONDS))
          .thenCompose(x -> publish(client, value, started));
    });
  }

  /** What one attempt came to: acked at {@code seq} (> 0), refused before anything was stored, or unknown. */
  record Attempt(long seq, boolean notStored, String why) {
    static final Attempt UNKNOWN = new Attempt(0, false, null);

    static Attempt acked(long seq) {
      return new Attempt(seq, false, null);
    }

    /** Refused before anything was stored, for the reason {@code why} (kept for the report). */
    static Attempt refused(String why) {
      return new Attempt(0, true, why);
    }
  }

  /** Through the HTTP API of the client's node ({@code --client http}). */
  private CompletableFuture<Attempt> viaHttp(int client, String value) {
    List<LocalCluster.Node> nodes = campaign.cluster.nodes;
    int via = nodeOf.get(client);
    LocalCluster.Node node = nodes.get(Math.floorMod(via, nodes.size()));
    HttpRequest req = HttpRequest.newBuilder(URI.create(node.http() + "/pub/" + Campaign.STREAM + ".v"))
        .timeout(REQUEST_TIMEOUT).POST(HttpRequest.BodyPublishers.ofString(value)).build();
    return campaign.http.sendAsync(req, HttpResponse.BodyHandlers.ofString()).handle((resp, failure) -> {
      Attempt a;
      if (failure != null) {
        // Only a connection that was never made is known not to have carried the request: refused,
        // or not made within the connect timeout (the node's listen backlog was full).
        a = Stream.of(failure, failure.getCause()).anyMatch(t -> t instanceof java.net.ConnectException
            || t instanceof java.net.http.HttpConnectTimeoutException) ? Attempt.refused(failure.toString())
            : Attempt.UNKNOWN;
      } else if (resp.statusCode() == 200) {
        try {
          a = Attempt.acked(JSON.readTree(resp.body()).get("seq").asLong());
        } catch (IOException e) {
          a = Attempt.UNKNOWN;
        }
      } else {
        a = NodeClient.errorCode(resp.body()).equals("unavailable") ? Attempt.refused(resp.body()) : Attempt.UNKNOWN;
      }
      if (a.seq() <= 0) {
        nodeOf.compareAndSet(client, via, via + 1); // the next node; once, however many requests failed here
      }
      return a;
    });
  }

  /** As a NATS application publishes: JetStream publish through the client's jnats connection. */
  private CompletableFuture<Attempt> viaNats(int client, String value) {
    int generation = nodeOf.get(client);
    CompletableFuture<Attempt> result = new CompletableFuture<>();
    Set<CompletableFuture<Attempt>> mine = awaiting.get(client);
    mine.add(result);
    result.whenComplete((a, e) -> {
      mine.remove(result);
      if (a.seq() > 0) {
        servedOf.set(client, System.nanoTime());
      } else if (System.nanoTime() - servedOf.get(client) > UNSERVED_NANOS) {
        moveOn(client, generation);
      }
    });
    try {
      jetStream[client].publishAsync(Campaign.STREAM + ".v", value.getBytes(StandardCharsets.UTF_8))
          .orTimeout(REQUEST_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
          .whenComplete((ack, failure) -> result.complete(failure == null ? Attempt.acked(ack.getSeqno())
              : natsFailure(failure)));
    } catch (RuntimeException e) { // jnats refuses at once while it reconnects: nothing was sent
      result.complete(Attempt.refused(e.toString()));
    }
    return result;
  }

  /**
   * A JetStream publish that failed after jnats took it: refused before anything was stored when no
   * node served the subject (503 no responders) or the node said so ({@link NatsNode#NOT_STORED});
   * anything else (a timeout, a lost connection) is unknown. (jnats refusing to take it at all,
   * while it reconnects, throws from the publish call itself: {@link #viaNats}.)
   */
  static Attempt natsFailure(Throwable failure) {
    Throwable e = failure;
    while ((e instanceof CompletionException || e.getClass() == RuntimeException.class) && e.getCause() != null) {
      e = e.getCause(); // jnats wraps what the ack's parsing threw in a RuntimeException
    }
    if (e instanceof JetStreamApiException api) {
      return api.getApiErrorCode() == 10008 && String.valueOf(api.getErrorDescription()).contains(NatsNode.NOT_STORED)
          ? Attempt.refused(e.toString()) : Attempt.UNKNOWN;
    }
    if (e instanceof IOException && String.valueOf(e.getMessage()).contains("503")) {
      return Attempt.refused(e.toString()); // no responders: no stream took the subject at that node
    }
    return Attempt.UNKNOWN;
  }

  /**
   * Moves NATS client {@code client} to another node after a failed attempt on connection
   * generation {@code generation}, once its node has acked nothing for {@link #UNSERVED_NANOS}:
   * once per connection, however many attempts failed there. jnats goes on to the next server of
   * its list.
   */
  private void moveOn(int client, int generation) {
    int now = nodeOf.get(client);
    if (generation != now || !nodeOf.compareAndSet(client, now, now + 1)) {
      return;
    }
    servedOf.set(client, System.nanoTime()); // the next node's grace starts now
    Connection c = nats[client];
    mover.execute(() -> {
      try {
        reconnectElsewhere(c);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
  }

  /** Has {@code c} drop its node and go on to the next server of its list, unless it is already on its way. */
  private static void reconnectElsewhere(Connection c) throws InterruptedException {
    if (c.getStatus() != Connection.Status.CONNECTED) {
      return;
    }
    try {
      c.forceReconnect();
    } catch (IOException e) {
      // jnats keeps reconnecting by itself
    }
  }

  /**
   * A reader as a NATS application reads: fetches of up to 100 messages from the durable pull
   * consumer, each message acked; after a failure it waits 200 ms and goes on through the next node.
   */
  private Runnable natsReader(Connection c) {
    readerConnections.add(c);
    return () -> {
      ConsumerContext consumer = null;
      while (!stopped.get()) {
        try {
          if (consumer == null) {
            consumer = c.getConsumerContext(Campaign.STREAM, Campaign.CONSUMER);
          }
          try (FetchConsumer fetch = consumer.fetch(FetchConsumeOptions.builder().maxMessages(100).expiresIn(1000)
              .build())) {
            for (Message m = fetch.nextMessage(); m != null; m = fetch.nextMessage()) {
              consumed.incrementAndGet();
              m.ack();
            }
          }
        } catch (InterruptedException e) {
          return;
        } catch (Exception e) { // that node is down, cut off or without a leader for the consumer
          consumer = null;
          Campaign.sleepMillis(200);
          try {
            if (!stopped.get()) {
              reconnectElsewhere(c);
            }
          } catch (InterruptedException ie) {
            return;
          }
        }
      }
    };
  }

  /** A reader over HTTP ({@code --client http}): node after node, each message acked by its own request. */
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

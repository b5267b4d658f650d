package io.holdfast.nats;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * The NATS listener's settings ({@code holdfast.nats.*}, documented in conf/holdfast.conf).
 *
 * @param maxPending bytes queued for one client and not yet written to its socket; beyond it the
 *     client is a slow consumer and is disconnected
 * @param pendingBudget the same, for all of the node's clients together: once they hold this much,
 *     a client holding more than its share is disconnected — the node's memory for outbound NATS
 *     traffic stays within this plus one message per client
 * @param publishInflightBytes stream publishes from one client that are sent and not yet
 *     acknowledged, in bytes; beyond it the node stops reading that client's socket until acks
 *     come back (TCP backpressure, never a dropped publish)
 */
public record NatsSettings(boolean enabled, String host, int port, int maxPayload, int maxControlLine,
    long maxPending, long pendingBudget, long publishInflightBytes, Duration pingInterval, int maxPingsOut) {

  public static NatsSettings fromConfig(Config config) {
    Config n = config.getConfig("holdfast.nats");
    int port = n.getInt("port");
    require(port >= 0 && port < 65536, "holdfast.nats.port must be 0..65535, got " + port);
    long maxPayload = n.getBytes("max-payload");
    require(maxPayload >= 1024 && maxPayload <= 64 << 20, "holdfast.nats.max-payload must be 1 KiB..64 MiB");
    long maxPending = n.getBytes("max-pending");
    require(maxPending >= 2 * maxPayload, "holdfast.nats.max-pending must be at least twice max-payload");
    long budget = n.getBytes("pending-budget");
    require(budget >= maxPending, "holdfast.nats.pending-budget must be at least max-pending");
    long inflight = n.getBytes("publish-inflight-bytes");
    require(inflight >= maxPayload, "holdfast.nats.publish-inflight-bytes must be at least max-payload");
    Duration ping = n.getDuration("ping-interval");
    require(ping.toMillis() >= 100, "holdfast.nats.ping-interval must be at least 100ms");
    int pingsOut = n.getInt("max-pings-out");
    require(pingsOut >= 1, "holdfast.nats.max-pings-out must be at least 1");
    return new NatsSettings(n.getBoolean("enabled"), n.getString("host"), port, (int) maxPayload, 4096, maxPending,
        budget, inflight, ping, pingsOut);
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }
}

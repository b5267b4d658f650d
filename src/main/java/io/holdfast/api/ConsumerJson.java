package io.holdfast.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.holdfast.stream.ConsumerConfig;
import io.holdfast.stream.ConsumerInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Consumers as the HTTP API and the CLI show them, with JetStream's field names:
 * {@code {"name","durable","deliver_policy","opt_start_seq","opt_start_time","filter_subjects",
 * "ack_policy","ack_wait","max_deliver","backoff","max_ack_pending","replay_policy",
 * "inactive_threshold"}}; durations as "30s", "2m" (or milliseconds as a number), times as ISO-8601.
 */
final class ConsumerJson {
  private static final ObjectMapper JSON = new ObjectMapper();

  private ConsumerJson() {}

  /** A consumer config from a JSON body; an ephemeral one without a name gets a random one. */
  static ConsumerConfig config(String body) {
    JsonNode n = HttpApi.jsonObject(body);
    boolean durable = n.path("durable").asBoolean(true);
    String name = n.path("name").asText(n.path("durable_name").asText(null));
    if (name == null && !durable) {
      name = "eph-" + UUID.randomUUID().toString().substring(0, 8);
    }
    List<String> filters = new ArrayList<>();
    if (n.path("filter_subject").isTextual()) {
      filters.add(n.path("filter_subject").asText());
    }
    n.path("filter_subjects").forEach(f -> filters.add(f.asText()));
    List<Long> backoff = new ArrayList<>();
    for (JsonNode b : n.path("backoff")) {
      backoff.add(millis(b, "backoff"));
    }
    long startTime = 0;
    if (n.hasNonNull("opt_start_time")) {
      try {
        startTime = java.time.Instant.parse(n.path("opt_start_time").asText()).toEpochMilli();
      } catch (java.time.format.DateTimeParseException e) {
        throw new HoldfastException.BadRequest("bad_consumer", "opt_start_time must be an ISO-8601 time like "
            + "2026-01-31T12:00:00Z, got '" + n.path("opt_start_time").asText() + "'");
      }
    }
    String deliverName = n.path("deliver_policy").asText("all");
    ConsumerConfig.DeliverPolicy deliver = ConsumerConfig.DeliverPolicy.ofName(deliverName);
    if (deliver == null) {
      throw new HoldfastException.BadRequest("bad_consumer", ConsumerConfig.DeliverPolicy.unknown(deliverName));
    }
    String ackName = n.path("ack_policy").asText("explicit");
    ConsumerConfig.AckPolicy ack = ConsumerConfig.AckPolicy.ofName(ackName);
    if (ack == null) {
      throw new HoldfastException.BadRequest("bad_consumer", ConsumerConfig.AckPolicy.unknown(ackName));
    }
    String replayName = n.path("replay_policy").asText("instant");
    ConsumerConfig.ReplayPolicy replay = ConsumerConfig.ReplayPolicy.ofName(replayName);
    if (replay == null) {
      throw new HoldfastException.BadRequest("bad_consumer", ConsumerConfig.ReplayPolicy.unknown(replayName));
    }
    ConsumerConfig c = new ConsumerConfig(name, durable, deliver,
        n.path("opt_start_seq").asLong(0), startTime, filters, ack,
        n.has("ack_wait") ? millis(n.path("ack_wait"), "ack_wait") : ConsumerConfig.ACK_WAIT_DEFAULT,
        n.path("max_deliver").asLong(-1), backoff, n.path("max_ack_pending").asLong(ConsumerConfig.MAX_ACK_PENDING_DEFAULT),
        replay, n.has("inactive_threshold")
            ? millis(n.path("inactive_threshold"), "inactive_threshold")
            : durable ? 0 : ConsumerConfig.INACTIVE_THRESHOLD_DEFAULT);
    String bad = c.invalid();
    if (bad != null) {
      throw new HoldfastException.BadRequest("bad_consumer", bad);
    }
    return c;
  }

  private static long millis(JsonNode v, String field) {
    return Durations.fromJson(v, field, "bad_consumer");
  }

  static ObjectNode config(ConsumerConfig c) {
    ObjectNode o = JSON.createObjectNode().put("name", c.name()).put("durable", c.durable())
        .put("deliver_policy", c.deliverPolicy().wireName);
    if (c.deliverPolicy() == ConsumerConfig.DeliverPolicy.BY_START_SEQUENCE) {
      o.put("opt_start_seq", c.optStartSeq());
    }
    if (c.deliverPolicy() == ConsumerConfig.DeliverPolicy.BY_START_TIME) {
      o.put("opt_start_time", java.time.Instant.ofEpochMilli(c.optStartTimeMillis()).toString());
    }
    c.filterSubjects().forEach(o.putArray("filter_subjects")::add);
    o.put("ack_policy", c.ackPolicy().wireName).put("ack_wait", Durations.format(c.ackWaitMillis()))
        .put("max_deliver", c.maxDeliver());
    c.backoffMillis().forEach(b -> o.withArray("backoff").add(Durations.format(b)));
    o.put("max_ack_pending", c.maxAckPending()).put("replay_policy", c.replayPolicy().wireName);
    if (!c.durable()) {
      o.put("inactive_threshold", Durations.format(c.inactiveThresholdMillis()));
    }
    return o;
  }

  static ObjectNode info(ConsumerInfo i) {
    ObjectNode o = JSON.createObjectNode().put("stream", i.stream()).put("name", i.config().name());
    o.set("config", config(i.config()));
    o.putObject("delivered").put("stream_seq", i.deliveredSeq()).put("consumer_seq", i.consumerSeq());
    o.putObject("ack_floor").put("stream_seq", i.ackFloor());
    return o.put("num_ack_pending", i.ackPending()).put("num_redelivered", i.redelivered())
        .put("num_pending", i.pending());
  }

  /** A delivered message: the stored message's fields plus consumer_seq, delivered, pending, ack_token. */
  static ObjectNode message(Message m) {
    ObjectNode o = HttpApi.message(new Records.StreamMessage(m.stream(), m.seq(), m.subject(), m.headers(), m.payload(),
        m.timestampMillis()));
    return o.put("consumer", m.consumer()).put("consumer_seq", m.consumerSeq()).put("delivered", m.delivered())
        .put("pending", m.pending()).put("ack_token", m.ackToken());
  }
}

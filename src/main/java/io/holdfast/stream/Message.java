package io.holdfast.stream;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A message as published, NATS-style: a subject, multi-valued headers, an opaque payload, and the
 * time the leader stamped on it when it proposed it (so every replica agrees on it).
 */
public record Message(String subject, SortedMap<String, List<String>> headers, byte[] payload, long timestampMillis) {
  /** What most messages carry: one shared map rather than two new ones per message. */
  private static final SortedMap<String, List<String>> NO_HEADERS = Collections.unmodifiableSortedMap(new TreeMap<>());

  public Message {
    Objects.requireNonNull(subject, "subject");
    if (headers == null || headers.isEmpty()) {
      headers = NO_HEADERS;
    } else {
      TreeMap<String, List<String>> copy = new TreeMap<>();
      headers.forEach((k, v) -> copy.put(k, List.copyOf(v)));
      headers = Collections.unmodifiableSortedMap(copy);
    }
    payload = payload == null ? new byte[0] : payload;
  }

  public static Message of(String subject, byte[] payload, long timestampMillis) {
    return new Message(subject, null, payload, timestampMillis);
  }

  /** Bytes this message counts for in stream limits: subject, headers and payload. */
  public long sizeBytes() {
    long bytes = subject.length() + payload.length;
    if (headers.isEmpty()) {
      return bytes;
    }
    for (var h : headers.entrySet()) {
      bytes += h.getKey().length();
      for (String v : h.getValue()) {
        bytes += v.length();
      }
    }
    return bytes;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Message m && subject.equals(m.subject) && headers.equals(m.headers)
        && Arrays.equals(payload, m.payload) && timestampMillis == m.timestampMillis;
  }

  @Override
  public int hashCode() {
    return Objects.hash(subject, headers, Arrays.hashCode(payload), timestampMillis);
  }
}

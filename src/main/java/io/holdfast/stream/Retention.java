package io.holdfast.stream;

/**
 * When a stream lets go of a message besides its limits (JetStream's retention policy). The name
 * is what the HTTP API, the command line and the stream's stored config carry.
 */
public enum Retention {
  /** Only the limits remove messages. */
  LIMITS("limits"),
  /** Also removed once every consumer whose filter matches it has acked it. */
  INTEREST("interest"),
  /** Also removed once acked by the one consumer that may take it. */
  WORKQUEUE("workqueue");

  public final String wireName;

  Retention(String wireName) {
    this.wireName = wireName;
  }

  /** The policy named {@code name}, or null if there is none. */
  public static Retention ofName(String name) {
    return WireNames.of(values(), r -> r.wireName, name);
  }

  /** What a bad name gets told. */
  public static String unknown(String name) {
    return "retention must be limits, interest or workqueue, got '" + name + "'";
  }
}

package io.holdfast.stream;

import java.util.function.Function;

/** Enums stored and sent by name (JetStream's names), never by ordinal. */
final class WireNames {
  private WireNames() {}

  /** The value of {@code values} whose name is {@code name}, or null. */
  static <E> E of(E[] values, Function<E, String> nameOf, String name) {
    for (E v : values) {
      if (nameOf.apply(v).equals(name)) {
        return v;
      }
    }
    return null;
  }

  /** A value read back from the log or a snapshot: an unknown name there is damage, not input. */
  static <E> E stored(E value, String what) {
    if (value == null) {
      throw new IllegalArgumentException("a stored " + what + " has a name this version does not know");
    }
    return value;
  }
}

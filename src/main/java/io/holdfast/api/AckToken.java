package io.holdfast.api;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/** The HTTP API's ack token: stream, consumer and stream sequence of a delivery, opaque to clients. */
public record AckToken(String stream, String consumer, long seq) {
  static String of(String stream, String consumer, long seq) {
    String raw = stream + "\n" + consumer + "\n" + seq;
    return Base64.getUrlEncoder().withoutPadding().encodeToString(raw.getBytes(StandardCharsets.UTF_8));
  }

  /** The token's parts, or a {@link HoldfastException.BadRequest} if it is not a token. */
  public static AckToken parse(String token) {
    try {
      String[] parts = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8).split("\n", -1);
      if (parts.length == 3) {
        return new AckToken(parts[0], parts[1], Long.parseLong(parts[2]));
      }
    } catch (IllegalArgumentException bad) {
      // falls through
    }
    throw new HoldfastException.BadRequest("bad_token", "not an ack token: '" + token + "'");
  }
}

package io.holdfast.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Goal: what Utf8 measures and writes is exactly what String.getBytes(UTF_8) gives, ASCII or not. */
class Utf8Test {
  @Test
  void measuresAndWritesWhatGetBytesGives() {
    for (String s : new String[] {"", "orders.new", "_INBOX.abc.*", "grüße.ü", "emoji.\uD83D\uDE00",
        "unpaired.\uD800", "\u007f\u0080\u07ff\u0800\uffff"}) {
      byte[] expected = s.getBytes(StandardCharsets.UTF_8);
      assertEquals(expected.length, Utf8.length(s), s);
      byte[] out = new byte[expected.length + 4];
      assertEquals(2 + expected.length, Utf8.write(s, out, 2), s);
      assertArrayEquals(expected, Arrays.copyOfRange(out, 2, 2 + expected.length), s);
      assertEquals(expected.length == s.length() && s.chars().allMatch(c -> c < 0x80), Utf8.ascii(s), s);
    }
  }
}

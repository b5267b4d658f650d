package io.holdfast.nats;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The ack of a stored publish, written without Jackson: the JSON a client reads, for any stream name. */
class PubAckJsonTest {
  /** Read back and written again by Jackson: the same text for the same content (numbers of any width). */
  private static String parse(byte[] json) throws Exception {
    return NatsConnection.JSON.readTree(new String(json, StandardCharsets.UTF_8)).toString();
  }

  private static String expected(String stream, long seq, boolean duplicate) {
    var o = NatsConnection.JSON.createObjectNode().put("stream", stream).put("seq", seq);
    return (duplicate ? o.put("duplicate", true) : o).toString();
  }

  @Test
  void isTheJsonJacksonWouldWrite() throws Exception {
    assertEquals(expected("ORDERS", 42, false), parse(JetStreamApi.pubAck("ORDERS", 42, false)));
    assertEquals(expected("a-b_C9", Long.MAX_VALUE, true), parse(JetStreamApi.pubAck("a-b_C9", Long.MAX_VALUE, true)));
    assertEquals("{\"stream\":\"ORDERS\",\"seq\":1}", new String(JetStreamApi.pubAck("ORDERS", 1, false),
        StandardCharsets.US_ASCII), "as nats-server writes it: no spaces");
  }

  @Test
  void aNameThatWouldNeedEscapingGoesThroughJackson() throws Exception {
    for (String odd : new String[] {"a\"b", "a\\b", "tab\there", "grüße"}) {
      assertEquals(expected(odd, 7, false), parse(JetStreamApi.pubAck(odd, 7, false)), odd);
    }
  }
}

package io.holdfast.nats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.holdfast.nats.JetStreamConsumers.AckSubject;
import org.junit.jupiter.api.Test;

/** The ack subjects NATS clients reply to, read in one pass: both forms, and what is not one. */
class AckSubjectTest {
  @Test
  void readsTheStreamConsumerAndStreamSequenceOfBothForms() {
    assertEquals(new AckSubject("ORDERS", "worker", 1234),
        AckSubject.parse("$JS.ACK.ORDERS.worker.1.1234.17.1733500000000000000.5"), "v1: 9 tokens");
    assertEquals(new AckSubject("ORDERS", "worker", 1234),
        AckSubject.parse("$JS.ACK.hub.ACCHASH.ORDERS.worker.1.1234.17.1733500000000000000.5"), "v2: 11 tokens");
    assertEquals(new AckSubject("ORDERS", "worker", 99),
        AckSubject.parse("$JS.ACK.hub.ACCHASH.ORDERS.worker.2.99.17.1733500000000000000.5.rnd"), "v2 with a token more");
  }

  @Test
  void aSequenceThatIsNoNumberIsMinusOneAndOtherTokenCountsAreNoAck() {
    assertEquals(new AckSubject("S", "c", -1), AckSubject.parse("$JS.ACK.S.c.1.x12.17.0.5"));
    assertEquals(new AckSubject("S", "c", -1), AckSubject.parse("$JS.ACK.S.c.1..17.0.5"));
    assertEquals(new AckSubject("S", "c", -1), AckSubject.parse("$JS.ACK.S.c.1.-3.17.0.5"));
    assertEquals(new AckSubject("S", "c", -1), AckSubject.parse("$JS.ACK.S.c.1.1234567890123456789.17.0.5"));
    assertNull(AckSubject.parse("$JS.ACK.S.c.1.12.17.0"), "8 tokens");
    assertNull(AckSubject.parse("$JS.ACK.S.c.1.12.17.0.5.6"), "10 tokens");
    assertNull(AckSubject.parse("$JS.ACK"));
  }
}

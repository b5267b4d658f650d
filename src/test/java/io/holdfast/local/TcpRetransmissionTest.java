package io.holdfast.local;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TcpRetransmissionTest {
  @Test
  void aNodeIsToldWhenItsHostLetsRetransmissionsBackOffForLong() {
    String note = TcpRetransmission.nodeNote(120_000);
    assertTrue(note.contains("net.ipv4.tcp_rto_max_ms is 120000") && note.contains("up to 120 s later")
        && note.contains("1000 is recommended"), note);
  }

  @Test
  void aNodeIsNotToldWhenTheCapIsShortOrTheKernelHasNone() {
    assertNull(TcpRetransmission.nodeNote(1000));
    assertNull(TcpRetransmission.nodeNote(5000));
    assertNull(TcpRetransmission.nodeNote(null));
  }
}

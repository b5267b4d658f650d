package io.holdfast.torture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.nats.NatsNode;
import io.nats.client.JetStreamApiException;
import io.nats.client.api.StreamInfo;
import io.nats.client.support.JsonParser;
import java.io.IOException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

/**
 * How torture's NATS publishers read a failed publish: only what proves nothing was stored is
 * retried (a retry of anything else could store a value twice, and the checker counts that).
 */
class WorkloadTest {
  private static JetStreamApiException apiError(int errCode, String description) throws Exception {
    return new JetStreamApiException(new StreamInfo(JsonParser.parse("{\"error\":{\"code\":503,\"err_code\":" + errCode
        + ",\"description\":\"" + description + "\"}}")));
  }

  /** As jnats hands a failed JetStream publish to the future's callback. */
  private static Throwable asJnatsFails(Exception e) {
    return new CompletionException(new RuntimeException(e));
  }

  @Test
  void refusalsThatProveNothingWasStoredAreRetried() throws Exception {
    Workload.Attempt notStored = Workload.natsFailure(asJnatsFails(apiError(10008,
        "JetStream system temporarily unavailable " + NatsNode.NOT_STORED + ": no leader")));
    assertTrue(notStored.notStored());
    assertTrue(notStored.why().contains("no leader"));
    assertTrue(Workload.natsFailure(asJnatsFails(
        new IOException("Error Publishing: 503 No Responders Available For Request"))).notStored());
  }

  @Test
  void everythingElseIsUnknownAndNotRetried() throws Exception {
    for (Throwable t : new Throwable[] {
        asJnatsFails(apiError(10008, "JetStream system temporarily unavailable (outcome unknown): no answer")),
        asJnatsFails(apiError(10077, "maximum messages exceeded")),
        new CompletionException(new TimeoutException()),
        asJnatsFails(new IOException("Error Publishing: 408 Request Timeout")),
        // Only thrown by the publish call itself does it prove nothing was sent (Workload.viaNats).
        new CompletionException(new IllegalStateException("Connection is Closed"))}) {
      Workload.Attempt a = Workload.natsFailure(t);
      assertFalse(a.notStored(), t.toString());
      assertEquals(0, a.seq());
    }
  }
}

package io.holdfast.nats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.holdfast.api.HoldfastException;
import org.junit.jupiter.api.Test;

/** NATS has one code for "temporarily unavailable"; the description says whether a retry is safe. */
class JetStreamErrorsTest {
  @Test
  void onlyARefusalThatStoredNothingSaysNotStored() {
    JsonNode refused = JetStreamApi.error(null, new HoldfastException.Unavailable("no leader")).path("error");
    JsonNode unknown = JetStreamApi.error(null, new HoldfastException.OutcomeUnknown("no answer")).path("error");
    assertEquals(10008, refused.path("err_code").asInt());
    assertEquals(10008, unknown.path("err_code").asInt());
    assertEquals(503, refused.path("code").asInt());
    assertTrue(refused.path("description").asText().contains(NatsNode.NOT_STORED));
    assertFalse(unknown.path("description").asText().contains(NatsNode.NOT_STORED));
    assertTrue(unknown.path("description").asText().contains("outcome unknown"));
  }
}

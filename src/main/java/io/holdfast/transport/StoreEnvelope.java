package io.holdfast.transport;

import io.holdfast.storage.StoreMessage;

/** A message about the message stores for replica {@code message.to()} of the group {@code group}, between nodes. */
public record StoreEnvelope(String group, StoreMessage message) implements ReplicaHost.Command {}

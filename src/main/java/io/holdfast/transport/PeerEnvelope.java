package io.holdfast.transport;

import io.holdfast.raft.message.RaftMessage;

/** A Raft message for replica {@code message.to()} of the group {@code group}, between nodes. */
public record PeerEnvelope(String group, RaftMessage message) implements ReplicaHost.Command {}

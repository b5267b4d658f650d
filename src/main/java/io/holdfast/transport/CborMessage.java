package io.holdfast.transport;

/**
 * Marks the client-facing messages that cross nodes (publishes, reads, replies, sharded-entity
 * commands): serialized with Jackson CBOR (bound in reference.conf). Raft traffic has its own
 * binary serializer ({@link RaftMessageSerializer}); these are one hop per client request.
 */
public interface CborMessage {}

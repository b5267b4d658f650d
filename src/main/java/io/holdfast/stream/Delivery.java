package io.holdfast.stream;

/**
 * A message as a consumer receives it: the stored message, its consumer sequence (a new one on
 * every delivery), how many times it has been delivered, and how many messages the consumer has
 * not reached yet ({@code pending}, counted in stream sequences, holes included).
 */
public record Delivery(String consumer, StoredMessage message, long consumerSeq, int deliveries, long pending) {}

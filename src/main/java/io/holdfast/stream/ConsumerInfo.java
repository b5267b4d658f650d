package io.holdfast.stream;

/**
 * A consumer's state as applied: {@code deliveredSeq} is the highest stream sequence delivered so
 * far, {@code consumerSeq} the number of deliveries, {@code ackFloor} the stream sequence below
 * which everything is done and {@code ackFloorConsumerSeq} the consumer sequence below which every
 * delivery is done (NATS's {@code ack_floor.consumer_seq}); {@code ackPending} delivered and
 * unacked, {@code redelivered} of those delivered more than once, {@code pending} not reached yet.
 */
public record ConsumerInfo(String stream, ConsumerConfig config, long deliveredSeq, long consumerSeq, long ackFloor,
    long ackFloorConsumerSeq, long ackPending, long redelivered, long pending) {}

package io.holdfast.stream;

/** A message at its stream sequence number (contiguous from 1, assigned when applied). */
public record StoredMessage(long seq, Message message) {}

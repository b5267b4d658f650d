package io.holdfast.api;

import io.holdfast.api.Records.StreamConfig;
import io.holdfast.stream.ConsumerConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.reactivestreams.Publisher;
import org.reactivestreams.tck.PublisherVerification;
import org.reactivestreams.tck.TestEnvironment;
import org.testng.annotations.AfterClass;
import org.testng.annotations.BeforeClass;

/**
 * Goal: {@link Consumer#asPublisher()} keeps the Reactive Streams specification. Method: the
 * TCK's publisher verification (TestNG, run by Surefire through the JUnit Platform TestNG engine)
 * against consumers of a one-node stream holding more messages than any test asks for; each
 * publisher is a fresh durable consumer limited to the elements the TCK wants.
 */
public class ConsumerPublisherTckTest extends PublisherVerification<Message> {
  static final int MESSAGES = 600;
  private static final AtomicInteger consumers = new AtomicInteger();
  private OneNode node;

  public ConsumerPublisherTckTest() {
    super(new TestEnvironment(3000, 300));
  }

  /** Starts a node and fills stream {@code tck}; shared by the Flow variant. */
  static OneNode startFilled() throws Exception {
    OneNode node = OneNode.inTempDirectory("holdfast-tck");
    node.holdfast.createStream(new StreamConfig("tck", List.of("tck.>"), 1)).toCompletableFuture().get();
    List<CompletableFuture<?>> acks = new ArrayList<>();
    for (int i = 0; i < MESSAGES; i++) {
      acks.add(node.holdfast.publish("tck.m", null, new byte[] {(byte) i}).toCompletableFuture());
    }
    CompletableFuture.allOf(acks.toArray(new CompletableFuture[0])).get();
    return node;
  }

  /** A fresh consumer of every message of stream {@code tck}, limited to {@code elements}. */
  static Consumer freshConsumer(OneNode node, long elements) {
    String name = "tck-" + consumers.incrementAndGet();
    node.holdfast.consumers().create("tck", ConsumerConfig.durable(name)).toCompletableFuture().join();
    return node.holdfast.consumer("tck", name).withBatch(16).withMaxMessages(elements);
  }

  @BeforeClass
  public void startNode() throws Exception {
    node = startFilled();
  }

  @AfterClass
  public void stopNode() throws Exception {
    node.close();
  }

  @Override
  public Publisher<Message> createPublisher(long elements) {
    return freshConsumer(node, elements).asPublisher();
  }

  @Override
  public Publisher<Message> createFailedPublisher() {
    return node.holdfast.consumer("tck", "no-such-consumer").asPublisher();
  }

  @Override
  public long maxElementsFromPublisher() {
    return MESSAGES;
  }
}

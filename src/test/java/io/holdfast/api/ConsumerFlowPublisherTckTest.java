package io.holdfast.api;

import java.util.concurrent.Flow;
import org.reactivestreams.tck.TestEnvironment;
import org.reactivestreams.tck.flow.FlowPublisherVerification;
import org.testng.annotations.AfterClass;
import org.testng.annotations.BeforeClass;

/** Goal: {@link Consumer#asFlowPublisher()} keeps the specification too (the TCK's Flow variant). */
public class ConsumerFlowPublisherTckTest extends FlowPublisherVerification<Message> {
  private OneNode node;

  public ConsumerFlowPublisherTckTest() {
    super(new TestEnvironment(3000, 300));
  }

  @BeforeClass
  public void startNode() throws Exception {
    node = ConsumerPublisherTckTest.startFilled();
  }

  @AfterClass
  public void stopNode() throws Exception {
    node.close();
  }

  @Override
  public Flow.Publisher<Message> createFlowPublisher(long elements) {
    return ConsumerPublisherTckTest.freshConsumer(node, elements).asFlowPublisher();
  }

  @Override
  public Flow.Publisher<Message> createFailedFlowPublisher() {
    return node.holdfast.consumer("tck", "no-such-consumer").asFlowPublisher();
  }

  @Override
  public long maxElementsFromPublisher() {
    return ConsumerPublisherTckTest.MESSAGES;
  }
}

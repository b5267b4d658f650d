package io.holdfast.nats;

import java.util.ArrayDeque;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.SourceShape;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.AsyncCallback;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.stream.stage.AbstractGraphStageWithMaterializedValue;
import org.apache.pekko.util.ByteString;
import org.apache.pekko.util.ByteStringBuilder;

/**
 * A client connection's outbound bytes: any thread {@link Handle#offer}s frames, the socket pulls
 * them, coalesced into writes of up to {@value #WRITE_BYTES} bytes. Offered frames wait in a
 * lock-free queue and the stage is woken only when that queue stops being empty: a stage wake-up is an
 * actor message, and one per frame was a fifth of a node's CPU when it relayed a consume. The
 * handle counts the bytes offered and not yet written, so that the connection can call a client
 * that does not read a slow consumer before the node's memory fills.
 */
final class Outbound extends AbstractGraphStageWithMaterializedValue<SourceShape<ByteString>, Outbound.Handle> {
  static final int WRITE_BYTES = 64 << 10;

  /** Thread-safe. */
  interface Handle {
    /** Queues {@code frame} unless the connection is closing; whether it was queued. */
    boolean offer(ByteString frame);

    /** Queues {@code last} (may be empty), then closes the connection once everything queued is written. */
    void close(ByteString last);

    /** Bytes queued and not yet written. */
    long pending();

    boolean closing();
  }

  private final Outlet<ByteString> out = Outlet.create("nats.out");
  private final SourceShape<ByteString> shape = SourceShape.of(out);
  private final AtomicLong nodePending;

  /** {@code nodePending}: the node's count of outbound bytes over all connections, kept up to date here. */
  Outbound(AtomicLong nodePending) {
    this.nodePending = nodePending;
  }

  @Override
  public SourceShape<ByteString> shape() {
    return shape;
  }

  private record Close(ByteString last) {}

  @Override
  public Pair<GraphStageLogic, Handle> createLogicAndMaterializedValuePair(Attributes attributes) {
    AtomicLong pending = new AtomicLong();
    AtomicBoolean closing = new AtomicBoolean();
    /** Frames (and a last {@link Close}) offered and not yet taken by the stage. */
    ConcurrentLinkedQueue<Object> offered = new ConcurrentLinkedQueue<>();
    /** Whether the stage has been woken and has not yet emptied {@code offered}. */
    AtomicBoolean woken = new AtomicBoolean();
    final class Logic extends GraphStageLogic {
      private final ArrayDeque<ByteString> queue = new ArrayDeque<>();
      private boolean closeWhenDrained;
      final AsyncCallback<Object> callback = createAsyncCallback(x -> onWake());

      Logic() {
        super(shape);
        setHandler(out, new AbstractOutHandler() {
          @Override
          public void onPull() {
            push();
          }

          @Override
          public void onDownstreamFinish(Throwable cause) {
            release();
            completeStage();
          }
        });
      }

      private void onWake() {
        woken.set(false); // before taking: a frame offered from now on wakes the stage again
        for (Object event; (event = offered.poll()) != null; ) {
          if (event instanceof ByteString b) {
            queue.add(b);
          } else {
            queue.add(((Close) event).last());
            closeWhenDrained = true;
          }
        }
        if (isAvailable(out)) {
          push();
        }
      }

      private void push() {
        if (queue.isEmpty()) {
          if (closeWhenDrained) {
            completeStage();
          }
          return;
        }
        ByteString first = queue.poll();
        ByteString write = first;
        if (!queue.isEmpty() && first.size() < WRITE_BYTES) {
          ByteStringBuilder b = new ByteStringBuilder().append(first);
          while (!queue.isEmpty() && b.length() + queue.peek().size() <= WRITE_BYTES) {
            b.append(queue.poll());
          }
          write = b.result();
        }
        pending.addAndGet(-write.size());
        nodePending.addAndGet(-write.size());
        push(out, write);
        if (queue.isEmpty() && closeWhenDrained) {
          completeStage();
        }
      }

      @Override
      public void postStop() {
        release();
      }

      /** What is still queued will never be written: it no longer counts against the node. */
      private void release() {
        closing.set(true);
        long left = 0;
        for (ByteString b : queue) {
          left += b.size();
        }
        queue.clear();
        for (Object event; (event = offered.poll()) != null; ) {
          left += event instanceof ByteString b ? b.size() : ((Close) event).last().size();
        }
        pending.addAndGet(-left);
        nodePending.addAndGet(-left);
      }
    }
    Logic logic = new Logic();
    Handle handle = new Handle() {
      @Override
      public boolean offer(ByteString frame) {
        if (closing.get()) {
          return false;
        }
        pending.addAndGet(frame.size());
        nodePending.addAndGet(frame.size());
        offered.add(frame);
        if (closing.get() && offered.remove(frame)) {
          // The stage stopped in the meantime and will not take it (if it took it first, it counted it).
          pending.addAndGet(-frame.size());
          nodePending.addAndGet(-frame.size());
          return false;
        }
        wake();
        return true;
      }

      private void wake() {
        if (woken.compareAndSet(false, true)) {
          logic.callback.invoke(Boolean.TRUE);
        }
      }

      @Override
      public void close(ByteString last) {
        if (closing.compareAndSet(false, true)) {
          pending.addAndGet(last.size());
          nodePending.addAndGet(last.size());
          offered.add(new Close(last));
          wake();
        }
      }

      @Override
      public long pending() {
        return pending.get();
      }

      @Override
      public boolean closing() {
        return closing.get();
      }
    };
    return Pair.create(logic, handle);
  }
}

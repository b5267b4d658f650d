package io.holdfast.server;

import io.holdfast.replica.ReplicaShell;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * A router's proposals waiting for their leader's reply, by ticket. A leader answers ticketed
 * proposals in batches ({@link ReplicaShell.Replies}) sent to the desk's actor ({@link #behavior}),
 * which completes each proposer's future; local leaders and leaders on other nodes alike.
 *
 * <p>Instead of an ask per proposal: an ask schedules a timeout task, and Pekko's timer wheel keeps
 * a cancelled task until its time comes. At the 5 s request timeout and 37k publishes/s that was
 * 185k tasks alive at any time, each outliving several young collections, which spent their pauses
 * copying them. With the router's per-request abandon check (now the same sweep), young pauses on
 * the NATS clients' node were 18-31 ms; without both, 6-14 ms. Deadlines are checked by the
 * router's sweep ({@link #expire}) instead, so a proposal nobody answers fails up to one sweep after
 * its deadline rather than at it.
 */
final class ReplyDesk {
  private record Waiting(CompletableFuture<ReplicaShell.ProposeReply> reply, long deadlineNanos) {}

  private final ConcurrentHashMap<Long, Waiting> waiting = new ConcurrentHashMap<>();
  private final AtomicLong lastTicket = new AtomicLong();

  /**
   * A ticket for a proposal whose reply completes {@code reply}, unless {@code deadlineNanos}
   * ({@link System#nanoTime}) passes first.
   */
  long register(CompletableFuture<ReplicaShell.ProposeReply> reply, long deadlineNanos) {
    long ticket = lastTicket.incrementAndGet();
    waiting.put(ticket, new Waiting(reply, deadlineNanos));
    return ticket;
  }

  /** Completes the proposals {@code replies} answers; a ticket nobody waits for any more is ignored. */
  void answer(ReplicaShell.Replies replies) {
    for (ReplicaShell.Routed r : replies.replies()) {
      Waiting w = waiting.remove(r.ticket());
      if (w != null) {
        w.reply().complete(r.reply());
      }
    }
  }

  /** Fails, with a {@link TimeoutException}, every proposal whose deadline is before {@code nowNanos}. */
  void expire(long nowNanos) {
    waiting.forEach((ticket, w) -> {
      if (nowNanos - w.deadlineNanos() > 0 && waiting.remove(ticket, w)) {
        w.reply().completeExceptionally(new TimeoutException("no reply from the leader by the request's deadline"));
      }
    });
  }

  /** Proposals waiting. */
  int size() {
    return waiting.size();
  }

  /** The actor leaders send their replies to. */
  static Behavior<ReplicaShell.Replies> behavior(ReplyDesk desk) {
    return Behaviors.receive(ReplicaShell.Replies.class)
        .onMessage(ReplicaShell.Replies.class, r -> {
          desk.answer(r);
          return Behaviors.same();
        })
        .build();
  }
}

package io.holdfast.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.holdfast.replica.ReplicaShell;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

/**
 * Goal: each reply reaches the proposal its ticket names, once, in any order; a proposal past its
 * deadline fails with a timeout and is forgotten, so a late reply changes nothing; one within its
 * deadline keeps waiting. Method: the desk alone, with the time passed in.
 */
class ReplyDeskTest {
  private static ReplicaShell.Replies replies(long... tickets) {
    return new ReplicaShell.Replies(java.util.Arrays.stream(tickets)
        .mapToObj(t -> new ReplicaShell.Routed(t, new ReplicaShell.Superseded(t))).toList());
  }

  @Test
  void repliesReachTheirProposalsByTicketOnce() throws Exception {
    ReplyDesk desk = new ReplyDesk();
    List<CompletableFuture<ReplicaShell.ProposeReply>> proposals = List.of(new CompletableFuture<>(),
        new CompletableFuture<>(), new CompletableFuture<>());
    long[] tickets = proposals.stream().mapToLong(p -> desk.register(p, Long.MAX_VALUE)).toArray();
    assertNotEquals(tickets[0], tickets[1]);
    desk.answer(replies(tickets[2], tickets[0]));
    desk.answer(replies(tickets[2], tickets[1])); // the first is a duplicate: nobody waits for it any more
    for (int i = 0; i < 3; i++) {
      assertEquals(new ReplicaShell.Superseded(tickets[i]), proposals.get(i).get());
    }
    assertEquals(0, desk.size());
  }

  @Test
  void aProposalPastItsDeadlineTimesOutAndIsForgotten() {
    ReplyDesk desk = new ReplyDesk();
    CompletableFuture<ReplicaShell.ProposeReply> late = new CompletableFuture<>();
    CompletableFuture<ReplicaShell.ProposeReply> waiting = new CompletableFuture<>();
    long lateTicket = desk.register(late, 1_000);
    long waitingTicket = desk.register(waiting, 5_000);
    desk.expire(1_000);
    assertFalse(late.isDone(), "not past its deadline yet");
    desk.expire(1_001);
    ExecutionException failure = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class, late::get);
    assertInstanceOf(TimeoutException.class, failure.getCause());
    assertFalse(waiting.isDone());
    desk.answer(replies(lateTicket, waitingTicket));
    assertEquals(new ReplicaShell.Superseded(waitingTicket), waiting.getNow(null));
    assertEquals(0, desk.size());
  }
}

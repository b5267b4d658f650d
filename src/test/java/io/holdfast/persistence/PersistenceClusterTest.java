package io.holdfast.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.api.Holdfast;
import io.holdfast.api.Records;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Goal: EventSourcedBehaviors keep their events in Holdfast through faults, and two incarnations
 * of one entity never interleave their events. Method: a 3-node in-JVM cluster and an application
 * node running {@link BankAccount}s on the journal plugin (R3 journal stream); the scenarios share
 * the cluster, in order (the last one stops a node).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PersistenceClusterTest {
  private static final Duration ASK = Duration.ofSeconds(15);
  private InJvmCluster cluster;
  private ActorSystem<Void> app;

  @BeforeAll
  void start() throws Exception {
    cluster = InJvmCluster.plan("holdfast").start();
    app = ActorSystem.create(Behaviors.empty(), "holdfast", cluster.applicationNode());
    InJvmCluster.await(() -> Holdfast.get(app).listStreams().toCompletableFuture().get() != null,
        "the application node sees the meta state", Duration.ofSeconds(60));
  }

  @AfterAll
  void stop() throws Exception {
    if (app != null) {
      app.terminate();
      app.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  private static BankAccount.State state(ActorSystem<?> on, ActorRef<BankAccount.Command> account) throws Exception {
    return AskPattern.<BankAccount.Command, BankAccount.State>ask(account, BankAccount.GetState::new, ASK,
        on.scheduler()).toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  private static Done deposit(ActorSystem<?> on, ActorRef<BankAccount.Command> account, String id, long amount)
      throws Exception {
    return AskPattern.<BankAccount.Command, Done>ask(account, r -> new BankAccount.Deposit(id, amount, r), ASK,
        on.scheduler()).toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  /** The journal's events of one account, as stored: (writer's deposit id, sequence number) in stream order. */
  private List<String> stored(String accountId) throws Exception {
    Holdfast h = Holdfast.get(app);
    String subject = "pekko.journal.e." + PluginStream.token("Account|" + accountId);
    EventCodec codec = new EventCodec(org.apache.pekko.actor.typed.javadsl.Adapter.toClassic(app));
    List<String> out = new ArrayList<>();
    long from = 1;
    while (true) {
      List<Records.StreamMessage> page = h.readSubject("PEKKO_JOURNAL", subject, from, 100).toCompletableFuture()
          .get(30, TimeUnit.SECONDS);
      if (page.isEmpty()) {
        return out;
      }
      for (Records.StreamMessage m : page) {
        BankAccount.Deposited d = (BankAccount.Deposited) codec.decode(m);
        out.add(EventCodec.sequenceNr(m) + ":" + d.id());
      }
      from = page.get(page.size() - 1).seq() + 1;
    }
  }

  /**
   * Two incarnations of one account on two nodes. The second recovers after the first wrote and
   * writes on; the first, still running, then writes with its stale view: its persist fails and
   * it stops, and the journal holds each sequence number once, from one writer.
   */
  @Test
  @Order(1)
  void aSecondIncarnationMakesTheFirstStopInsteadOfInterleaving() throws Exception {
    ActorSystem<Void> other = cluster.nodes.get(2);
    ActorRef<BankAccount.Command> first = app.systemActorOf(BankAccount.stoppingOnFailure("twin"), "twin-a",
        org.apache.pekko.actor.typed.Props.empty());
    deposit(app, first, "a1", 1);
    ActorRef<BankAccount.Command> second = other.systemActorOf(BankAccount.stoppingOnFailure("twin"), "twin-b",
        org.apache.pekko.actor.typed.Props.empty());
    assertEquals(List.of("a1"), state(other, second).deposits(), "the second incarnation recovered the first's event");
    deposit(other, second, "b2", 1);

    TestProbe<Object> watcher = TestProbe.create(app);
    app.systemActorOf(Behaviors.setup(ctx -> {
      ctx.watch(first);
      return Behaviors.receiveSignal((c, sig) -> {
        watcher.ref().tell("stopped");
        return Behaviors.same();
      });
    }), "twin-watch", org.apache.pekko.actor.typed.Props.empty());
    TestProbe<Done> late = TestProbe.create(app);
    first.tell(new BankAccount.Deposit("a2", 1, late.ref()));
    watcher.expectMessage(Duration.ofSeconds(30), "stopped");
    late.expectNoMessage(Duration.ofMillis(200));

    deposit(other, second, "b3", 1);
    assertEquals(List.of("1:a1", "2:b2", "3:b3"), stored("twin"),
        "one writer at each sequence number, the loser's write absent");
  }

  /**
   * The journal stream's leader node stops while an account persists deposits. Every confirmed
   * deposit is in the recovered state, each exactly once, in the order confirmed; a deposit whose
   * confirmation was lost may be there too (its outcome was unknown), but only once.
   */
  @Test
  @Order(2)
  void confirmedDepositsSurviveTheJournalLeadersDeathAndReplayExactlyOnce() throws Exception {
    ActorRef<BankAccount.Command> account = app.systemActorOf(BankAccount.create("acct"), "acct",
        org.apache.pekko.actor.typed.Props.empty());
    List<String> confirmed = new ArrayList<>();
    Set<String> unknown = new HashSet<>();
    long balance = 0;
    int stopAt = 40;
    for (int i = 1; i <= 120; i++) {
      if (i == stopAt) {
        int leader = Holdfast.get(app).streamInfo("PEKKO_JOURNAL").toCompletableFuture().get(30, TimeUnit.SECONDS)
            .cluster().leader();
        ActorSystem<Void> dying = cluster.nodes.remove(leader);
        dying.terminate(); // not waited for: deposits go on while it goes
      }
      String id = "d" + i;
      try {
        deposit(app, account, id, i);
        confirmed.add(id);
        balance += i;
      } catch (Exception e) {
        unknown.add(id);
      }
    }
    assertTrue(confirmed.size() >= 60, "most deposits confirmed: " + confirmed.size() + ", unknown " + unknown);

    // A fresh incarnation recovers from the journal alone (the first is idle: nothing is left to persist).
    ActorRef<BankAccount.Command> recovered = app.systemActorOf(BankAccount.create("acct"), "acct-recovered",
        org.apache.pekko.actor.typed.Props.empty());
    BankAccount.State state = state(app, recovered);
    List<String> replayed = state.deposits();
    assertEquals(new HashSet<>(replayed).size(), replayed.size(), "each event replayed once: " + replayed);
    List<String> confirmedSeen = new ArrayList<>(replayed);
    confirmedSeen.removeIf(unknown::contains);
    assertEquals(confirmed, confirmedSeen, "every confirmed deposit, in order; nothing else but unknown ones");
    long extra = 0;
    for (String id : replayed) {
      if (unknown.contains(id)) {
        extra += Long.parseLong(id.substring(1));
      }
    }
    assertEquals(balance + extra, state.balance());
  }
}

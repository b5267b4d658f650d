package io.holdfast.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.api.Holdfast;
import io.holdfast.api.Records;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import io.holdfast.api.HoldfastException;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.persistence.query.Sequence;
import org.apache.pekko.persistence.state.DurableStateStoreRegistry;
import org.apache.pekko.persistence.state.javadsl.DurableStateUpdateStore;
import org.apache.pekko.persistence.state.javadsl.GetObjectResult;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
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

    // A journal that never saw the id (or forgot it) checks the stored newest event instead: a
    // write at sequence number 3, where 3 is stored, fails; one at 4 goes through.
    ActorSystem<Void> third = cluster.nodes.get(3);
    assertEquals("failed", rawWrite(third, "twin", 3, "c3"));
    assertEquals("written", rawWrite(third, "twin", 4, "c4"));
    assertEquals(List.of("1:a1", "2:b2", "3:b3", "4:c4"), stored("twin"));
  }

  /** Sends one event straight to {@code on}'s journal actor, as a persistent actor would; "written" or "failed". */
  private static String rawWrite(ActorSystem<Void> on, String account, long seqNr, String id) {
    org.apache.pekko.actor.ActorSystem classic = org.apache.pekko.actor.typed.javadsl.Adapter.toClassic(on);
    org.apache.pekko.testkit.javadsl.TestKit probe = new org.apache.pekko.testkit.javadsl.TestKit(classic);
    org.apache.pekko.persistence.PersistentRepr repr = org.apache.pekko.persistence.PersistentRepr$.MODULE$.apply(
        new BankAccount.Deposited(id, 1), seqNr, "Account|" + account, "", false, probe.getRef(), "raw-writer");
    org.apache.pekko.persistence.PersistentEnvelope write = org.apache.pekko.persistence.AtomicWrite$.MODULE$.apply(repr);
    org.apache.pekko.persistence.Persistence.get(classic).journalFor(null, com.typesafe.config.ConfigFactory.empty()).tell(
        new org.apache.pekko.persistence.JournalProtocol.WriteMessages(
            scala.jdk.javaapi.CollectionConverters.asScala(List.of(write)).toList(), probe.getRef(), 1),
        probe.getRef());
    Object first = probe.receiveOne(Duration.ofSeconds(30));
    probe.receiveOne(Duration.ofSeconds(30)); // the write's own success or failure
    return first instanceof org.apache.pekko.persistence.JournalProtocol.WriteMessagesFailed ? "failed"
        : first == org.apache.pekko.persistence.JournalProtocol.WriteMessagesSuccessful$.MODULE$ ? "written"
        : "unexpected " + first;
  }

  /**
   * Durable state: revisions follow one another, a stale or skipped revision is refused, and a
   * store on another node whose remembered revision is stale is refused by the stream's leader
   * (the expected last subject sequence), not only by its own view.
   */
  @Test
  @Order(2)
  void durableStateUpsertsFollowRevisionsAndAStaleWriterLoses() throws Exception {
    DurableStateUpdateStore<Object> here = stateStore(app);
    DurableStateUpdateStore<Object> there = stateStore(cluster.nodes.get(3));
    assertEquals(new GetObjectResult<>(Optional.empty(), 0), get(here.getObject("cart-1")));
    get(here.upsertObject("cart-1", 1, "apples", "carts"));
    assertEquals(new GetObjectResult<>(Optional.of("apples"), 1), get(there.getObject("cart-1")));
    assertRefused(here.upsertObject("cart-1", 1, "again", ""), "revision 1 twice");
    assertRefused(here.upsertObject("cart-1", 3, "skipped", ""), "revision 3 after 1");
    get(here.upsertObject("cart-1", 2, "apples, pears", ""));
    get(there.upsertObject("cart-1", 3, "pears", "")); // there read revision 1, then sees 2 from the store
    assertRefused(here.upsertObject("cart-1", 3, "apples, pears, plums", ""),
        "here remembers revision 2, but the leader holds 3");
    assertEquals(new GetObjectResult<>(Optional.of("pears"), 3), get(here.getObject("cart-1")));
    get(here.deleteObject("cart-1", 4));
    assertEquals(new GetObjectResult<>(Optional.empty(), 4), get(there.getObject("cart-1")));
    get(there.upsertObject("cart-1", 5, "plums", ""));
    assertEquals(new GetObjectResult<>(Optional.of("plums"), 5), get(here.getObject("cart-1")));
    assertEquals(1L, Holdfast.get(app).streamInfo("PEKKO_STATE").toCompletableFuture().get(30, TimeUnit.SECONDS)
        .state().messages(), "only the newest revision is kept");
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static DurableStateUpdateStore<Object> stateStore(ActorSystem<?> on) {
    Class<DurableStateUpdateStore> type = DurableStateUpdateStore.class;
    return (DurableStateUpdateStore<Object>) DurableStateStoreRegistry.get(on).getDurableStateStoreFor(type,
        "holdfast.persistence.state");
  }

  private static <T> T get(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  private static void assertRefused(CompletionStage<?> stage, String what) {
    ExecutionException e = assertThrows(ExecutionException.class, () -> get(stage), what);
    assertTrue(e.getCause() instanceof IllegalStateException || e.getCause() instanceof HoldfastException.Conflict,
        what + ": " + e.getCause());
  }

  /**
   * Queries: a live eventsByTag gets the deposits persisted after it started, in offset order;
   * after the application node restarts, a query from the stored offset of one of them goes on
   * from the next, with nothing twice; the current queries by id and of ids see what is stored.
   */
  @Test
  @Order(3)
  void liveTagQueryDeliversNewEventsInOffsetOrderAndResumesFromAnOffset() throws Exception {
    HoldfastReadJournal queries = PersistenceQuery.get(app).getReadJournalFor(HoldfastReadJournal.class,
        HoldfastReadJournal.IDENTIFIER);
    TestProbe<EventEnvelope> seen = TestProbe.create(app);
    var control = queries.eventsByTag(BankAccount.TAG, Offset.noOffset())
        .viaMat(KillSwitches.single(), Keep.right())
        .to(Sink.foreach(seen.ref()::tell)).run(app);
    ActorRef<BankAccount.Command> account = app.systemActorOf(BankAccount.create("q"), "q",
        org.apache.pekko.actor.typed.Props.empty());
    for (int i = 1; i <= 10; i++) {
      deposit(app, account, "q" + i, i);
    }
    List<EventEnvelope> got = new ArrayList<>();
    while (got.stream().filter(e -> e.persistenceId().equals("Account|q")).count() < 10) {
      got.add(seen.receiveMessage(Duration.ofSeconds(30)));
    }
    control.shutdown();
    long previous = 0;
    for (EventEnvelope e : got) {
      long offset = ((Sequence) e.offset()).value();
      assertTrue(offset > previous, "offsets grow: " + got);
      previous = offset;
    }
    List<EventEnvelope> ours = got.stream().filter(e -> e.persistenceId().equals("Account|q")).toList();
    assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L), ours.stream().map(EventEnvelope::sequenceNr).toList());
    assertEquals(new BankAccount.Deposited("q4", 4), ours.get(3).event());

    // The application node restarts (a new ActorSystem, the same config) and resumes from a stored offset.
    Offset stored = ours.get(5).offset();
    app.terminate();
    app.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
    app = ActorSystem.create(Behaviors.empty(), "holdfast", cluster.applicationNode());
    InJvmCluster.await(() -> Holdfast.get(app).listStreams().toCompletableFuture().get() != null,
        "the restarted application node sees the meta state", Duration.ofSeconds(60));
    queries = PersistenceQuery.get(app).getReadJournalFor(HoldfastReadJournal.class, HoldfastReadJournal.IDENTIFIER);
    TestProbe<EventEnvelope> resumed = TestProbe.create(app);
    var again = queries.eventsByTag(BankAccount.TAG, stored)
        .viaMat(KillSwitches.single(), Keep.right())
        .to(Sink.foreach(resumed.ref()::tell)).run(app);
    account = app.systemActorOf(BankAccount.create("q"), "q", org.apache.pekko.actor.typed.Props.empty());
    deposit(app, account, "q11", 11);
    List<Long> after = new ArrayList<>();
    while (after.size() < 5) {
      EventEnvelope e = resumed.receiveMessage(Duration.ofSeconds(30));
      if (e.persistenceId().equals("Account|q")) {
        after.add(e.sequenceNr());
      }
    }
    again.shutdown();
    assertEquals(List.of(7L, 8L, 9L, 10L, 11L), after, "from the event after the offset, the new one included");

    List<Long> current = queries.currentEventsByPersistenceId("Account|q", 3, 5)
        .map(EventEnvelope::sequenceNr).runWith(Sink.seq(), app).toCompletableFuture().get(30, TimeUnit.SECONDS);
    assertEquals(List.of(3L, 4L, 5L), current);
    List<String> ids = queries.currentPersistenceIds().runWith(Sink.seq(), app).toCompletableFuture()
        .get(30, TimeUnit.SECONDS);
    assertTrue(ids.containsAll(List.of("Account|q", "Account|twin")), "ids: " + ids);
  }

  /**
   * The journal stream's leader node stops while an account persists deposits. Every confirmed
   * deposit is in the recovered state, each exactly once, in the order confirmed; a deposit whose
   * confirmation was lost may be there too (its outcome was unknown), but only once.
   */
  @Test
  @Order(4)
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

package io.holdfast.server;

import io.holdfast.meta.MetaState;
import io.holdfast.replica.ReplicaShell;
import io.holdfast.replica.Wire;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * Keeps this node's view of the meta state fresh: every poll interval it asks each meta replica
 * for its applied state if newer than the view. Every answer is committed state (D4), possibly
 * stale, never ahead of the truth; the view only moves forward (higher applied index). Runs on
 * every node, application nodes included: routing a publish by subject needs it.
 *
 * <p>Failure policy: resume. An exception handling one answer (a snapshot it cannot restore)
 * drops that answer and keeps the view; restarting would forget the view and could hand
 * listeners an older one, and stopping would freeze every routing decision on this node.
 */
public final class MetaWatcher extends AbstractBehavior<MetaWatcher.Command> {
  public sealed interface Command {}

  private enum Poll implements Command { INSTANCE }

  private record Answer(Wire.ReadReply reply) implements Command {}

  /** Adds a listener that gets every newer view (and the current one at once, if any). */
  public record Subscribe(Consumer<MetaState> listener) implements Command {}

  private final java.util.function.Supplier<List<Integer>> voters;
  /** Polls since the last answer: after {@link #LOST} of them every server node is asked too. */
  private int unanswered;
  private static final int LOST = 10;
  private final ActorRef<Wire.ReadReply> answers;
  private final List<Consumer<MetaState>> listeners = new ArrayList<>();
  private MetaState view;

  public static Behavior<Command> create(java.util.function.Supplier<List<Integer>> voters, Duration interval, Consumer<MetaState> onNewer) {
    return Behaviors.supervise(Behaviors.<Command>setup(ctx -> Behaviors.<Command>withTimers(timers -> {
      timers.startTimerWithFixedDelay(Poll.INSTANCE, interval);
      return new MetaWatcher(ctx, voters, onNewer);
    }))).onFailure(SupervisorStrategy.resume());
  }

  private MetaWatcher(ActorContext<Command> ctx, java.util.function.Supplier<List<Integer>> voters,
      Consumer<MetaState> onNewer) {
    super(ctx);
    this.voters = voters;
    this.answers = ctx.messageAdapter(Wire.ReadReply.class, Answer::new);
    listeners.add(onNewer);
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessageEquals(Poll.INSTANCE, this::onPoll)
        .onMessage(Answer.class, this::onAnswer)
        .onMessage(Subscribe.class, this::onSubscribe)
        .build();
  }

  private Behavior<Command> onPoll() {
    long known = view == null ? -1 : view.appliedIndex();
    java.util.Set<Integer> ask = new java.util.TreeSet<>(voters.get());
    if (++unanswered > LOST) { // the voters it knows may all have left the meta group: any node's meta replica will do
      ask.addAll(NodeDirectory.serverNodes(getContext().getSystem()).keySet());
    }
    for (int voter : ask) {
      Optional<ActorRef<ReplicaShell.Command>> meta = NodeDirectory.replica(getContext().getSystem(), voter, "meta");
      meta.ifPresent(m -> m.tell(new ReplicaShell.Read(new Wire.GetMeta(known), false, answers)));
    }
    return this;
  }

  private Behavior<Command> onAnswer(Answer a) {
    unanswered = 0;
    if (a.reply() instanceof Wire.MetaView v && v.snapshot().length > 0
        && (view == null || v.index() > view.appliedIndex())) {
      MetaState state = new MetaState();
      state.restore(v.snapshot());
      view = state;
      listeners.forEach(l -> l.accept(state));
    }
    return this;
  }

  private Behavior<Command> onSubscribe(Subscribe s) {
    listeners.add(s.listener());
    if (view != null) {
      s.listener().accept(view);
    }
    return this;
  }
}

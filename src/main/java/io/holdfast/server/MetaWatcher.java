package io.holdfast.server;

import io.holdfast.meta.MetaState;
import io.holdfast.replica.ReplicaShell;
import io.holdfast.replica.Wire;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * Keeps this node's view of the meta state fresh: every poll interval it asks each meta replica
 * for its applied state if newer than the view. Every answer is committed state (D4), possibly
 * stale, never ahead of the truth; the view only moves forward (higher applied index). Runs on
 * every node, application nodes included: routing a publish by subject needs it.
 */
public final class MetaWatcher {
  private MetaWatcher() {}

  public sealed interface Command {}

  private enum Poll implements Command { INSTANCE }

  private record Answer(Wire.ReadReply reply) implements Command {}

  /** Adds a listener that gets every newer view (and the current one at once, if any). */
  public record Subscribe(Consumer<MetaState> listener) implements Command {}

  public static Behavior<Command> create(List<Integer> voters, Duration interval, Consumer<MetaState> onNewer) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      timers.startTimerWithFixedDelay(Poll.INSTANCE, interval);
      ActorRef<Wire.ReadReply> answers = ctx.messageAdapter(Wire.ReadReply.class, Answer::new);
      MetaState[] view = {null};
      java.util.ArrayList<Consumer<MetaState>> listeners = new java.util.ArrayList<>();
      listeners.add(onNewer);
      return Behaviors.receive(Command.class)
          .onMessageEquals(Poll.INSTANCE, () -> {
            long known = view[0] == null ? -1 : view[0].appliedIndex();
            for (int voter : voters) {
              Optional<ActorRef<ReplicaShell.Command>> meta = NodeDirectory.replica(ctx.getSystem(), voter, "meta");
              meta.ifPresent(m -> m.tell(new ReplicaShell.Read(new Wire.GetMeta(known), false, answers)));
            }
            return Behaviors.same();
          })
          .onMessage(Answer.class, a -> {
            if (a.reply() instanceof Wire.MetaView v && v.snapshot().length > 0
                && (view[0] == null || v.index() > view[0].appliedIndex())) {
              MetaState state = new MetaState();
              state.restore(v.snapshot());
              view[0] = state;
              listeners.forEach(l -> l.accept(state));
            }
            return Behaviors.same();
          })
          .onMessage(Subscribe.class, s -> {
            listeners.add(s.listener());
            if (view[0] != null) {
              s.listener().accept(view[0]);
            }
            return Behaviors.same();
          })
          .build();
    }));
  }
}

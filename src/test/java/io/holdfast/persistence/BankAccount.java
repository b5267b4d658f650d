package io.holdfast.persistence;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;

/**
 * The README's example: a bank account whose deposits are events in Holdfast's journal. Every
 * deposit has an id; the state keeps them in order, so a test can see each replayed exactly once.
 */
public final class BankAccount extends EventSourcedBehavior<BankAccount.Command, BankAccount.Event, BankAccount.State> {
  /** Bound to jackson-cbor in the test cluster's config: how the events are stored. */
  public interface CborSerializable {}

  public sealed interface Command extends CborSerializable {}

  /** Deposits {@code amount}; {@code replyTo} hears Done once the event is in the journal. */
  public record Deposit(String id, long amount, ActorRef<Done> replyTo) implements Command {}

  public record GetState(ActorRef<State> replyTo) implements Command {}

  public sealed interface Event extends CborSerializable {}

  public record Deposited(String id, long amount) implements Event {}

  public record State(long balance, List<String> deposits) implements CborSerializable {}

  public static final String TAG = "bank";

  /** An account that restarts (and recovers) after a failed persist, as a production entity would. */
  public static Behavior<Command> create(String accountId) {
    return new BankAccount(PersistenceId.of("Account", accountId), true);
  }

  /** An account that stops after a failed persist (Pekko's default): what a losing second writer does. */
  public static Behavior<Command> stoppingOnFailure(String accountId) {
    return new BankAccount(PersistenceId.of("Account", accountId), false);
  }

  private BankAccount(PersistenceId id, boolean restart) {
    super(id, restart ? java.util.Optional.of(SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200),
        Duration.ofSeconds(2), 0.1)) : java.util.Optional.empty());
  }

  @Override
  public State emptyState() {
    return new State(0, List.of());
  }

  @Override
  public CommandHandler<Command, Event, State> commandHandler() {
    return newCommandHandlerBuilder().forAnyState()
        .onCommand(Deposit.class, (state, d) -> Effect().persist(new Deposited(d.id(), d.amount()))
            .thenReply(d.replyTo(), s -> Done.getInstance()))
        .onCommand(GetState.class, (state, g) -> Effect().reply(g.replyTo(), state))
        .build();
  }

  @Override
  public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder().forAnyState()
        .onEvent(Deposited.class, (state, d) -> {
          List<String> deposits = new ArrayList<>(state.deposits());
          deposits.add(d.id());
          return new State(state.balance() + d.amount(), deposits);
        })
        .build();
  }

  @Override
  public Set<String> tagsFor(Event event) {
    return Set.of(TAG);
  }
}

package io.holdfast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.holdfast.cli.NodeCommand.AfterFailedStart;
import java.util.Optional;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.junit.jupiter.api.Test;

/**
 * Goal: a node whose services fail to start exits only when restarting cannot help, and a node
 * downed while it starts (formation runs beside the start) starts again. Method: the decision
 * {@code holdfast node} takes, for each kind of failure.
 */
class NodeCommandTest {
  private static final Optional<CoordinatedShutdown.Reason> DOWNED = Optional.of(
      CoordinatedShutdown.clusterDowningReason());

  @Test
  void aNodeDownedWhileItStartsStartsAgainEvenTheFirstTime() {
    assertEquals(AfterFailedStart.RESTART_DOWNED, NodeCommand.afterFailedStart(DOWNED, false, 1, 0));
    assertEquals(AfterFailedStart.RESTART_DOWNED, NodeCommand.afterFailedStart(DOWNED, false, 7, 5));
  }

  @Test
  void aFirstStartThatFailsOtherwiseExits() {
    assertEquals(AfterFailedStart.EXIT, NodeCommand.afterFailedStart(Optional.empty(), false, 1, 0));
    assertEquals(AfterFailedStart.EXIT, NodeCommand.afterFailedStart(
        Optional.of(CoordinatedShutdown.unknownReason()), false, 1, 0));
  }

  @Test
  void aStorageFailureExitsEvenWhenDowned() {
    assertEquals(AfterFailedStart.EXIT, NodeCommand.afterFailedStart(DOWNED, true, 3, 0));
  }

  @Test
  void aLaterStartIsTriedAgainUntilTooManyQuickRestarts() {
    assertEquals(AfterFailedStart.RETRY, NodeCommand.afterFailedStart(Optional.empty(), false, 2, 0));
    assertEquals(AfterFailedStart.RETRY, NodeCommand.afterFailedStart(Optional.empty(), false, 6, 4));
    assertEquals(AfterFailedStart.EXIT, NodeCommand.afterFailedStart(Optional.empty(), false, 7, 5));
  }
}

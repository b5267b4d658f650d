package io.holdfast.torture;

/**
 * {@code rolling}: the operator's rolling restart ({@code holdfast cluster restart --rolling}, the
 * same code): every node stopped cleanly and started again in turn, the next only once the last
 * serves and its replicas caught up. Not in {@code --faults all}: it is maintenance, not a fault,
 * and takes 15-30 s; the campaign checks that publishing through it loses nothing.
 */
final class RollingRestartFault implements Fault {
  @Override
  public String name() {
    return "rolling";
  }

  @Override
  public String inject(Campaign c) throws Exception {
    if (!c.down.isEmpty()) {
      return null; // a rolling restart starts from a whole cluster
    }
    c.cluster.rollingRestart(c.err, c.down::add, c.down::remove);
    return "rolling restart of every node";
  }
}

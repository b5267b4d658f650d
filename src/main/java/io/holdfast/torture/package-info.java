/**
 * The fault campaign on real node processes ({@code holdfast torture}): Jepsen's NATS findings,
 * tried against Holdfast. {@link io.holdfast.torture.Campaign} runs it: a local cluster of node
 * JVMs on their own loopback addresses and an R-replica stream; {@link io.holdfast.torture.Workload}
 * publishes unique values and records what was acked, and reads and acks as a consumer;
 * {@link io.holdfast.torture.Nemesis} injects one {@link io.holdfast.torture.Fault} after another
 * on a schedule from the seed (one class per fault family; partitions through
 * {@link io.holdfast.torture.Network}'s iptables rules); at the end everything is healed, the
 * stream is read from every node separately, {@link io.holdfast.torture.Checker} counts the
 * history the way Jepsen counts, and {@link io.holdfast.torture.Report} writes report.html with its
 * plots and the per-second figures as CSV and JSON beside it.
 *
 * <p>It ships in {@code src/main} because the command line runs it; it runs only against a local
 * cluster it starts itself, never against a live node.
 */
package io.holdfast.torture;

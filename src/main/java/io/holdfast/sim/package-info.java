/**
 * The deterministic simulator: one whole cluster history per seed, on one thread — N replicas,
 * each the production {@link io.holdfast.replica.ReplicaDriver} over the production stream machine
 * and segment store, on simulated disks and a simulated network, with a nemesis and a checker for
 * every invariant of DESIGN.md (each with a negative-control {@link io.holdfast.sim.Mode}).
 *
 * <p>It ships in {@code src/main}, not in the tests, because the command line runs it
 * ({@code holdfast sim}: replay a seed with {@code --trace}, sweep seeds in CI and by hand). It is
 * pure (no actors, files, threads or clocks: ArchitectureTest), so it costs the node nothing.
 */
package io.holdfast.sim;

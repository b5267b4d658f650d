/**
 * The simulator's storage: an in-memory {@link io.holdfast.storage.LogStore} and
 * {@link io.holdfast.storage.Disk} with the failure model of a real disk — unsynced writes lost
 * on a crash or power cut, bit flips, cut-off tails — and the negative-control bugs the simulator
 * plants (acknowledging before fsync, truncating on corruption).
 *
 * <p>In {@code src/main} for the same reason as {@link io.holdfast.sim}: {@code holdfast sim} runs
 * on it. Nodes never use it; the log store contract tests run both it and the file store.
 */
package io.holdfast.storage.sim;

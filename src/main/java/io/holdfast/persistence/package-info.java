/**
 * Holdfast as a Pekko Persistence plugin: {@link io.holdfast.persistence.HoldfastJournal} and
 * {@link io.holdfast.persistence.HoldfastSnapshotStore}, configured under
 * {@code holdfast.persistence.*} (reference.conf). Each keeps its data in one Holdfast stream,
 * created on first use; a persistence id is one subject of that stream (see {@link
 * io.holdfast.persistence.PluginStream}). The mapping is in README, "Holdfast as a Pekko
 * Persistence plugin".
 */
package io.holdfast.persistence;

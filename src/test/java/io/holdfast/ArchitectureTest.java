package io.holdfast;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Goal: keep the core pure, so one seed can replay a whole cluster's history. Method: import
 * rules over the production classes (DESIGN.md §4). The Raft core, the base types and the
 * simulator may not touch actors, files, sockets, threads, clocks or global randomness.
 */
@AnalyzeClasses(packages = "io.holdfast", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {
  private static final String[] PURE = {"io.holdfast.base..", "io.holdfast.raft..", "io.holdfast.sim..",
      "io.holdfast.storage", "io.holdfast.storage.sim.."};

  @ArchTest
  static final ArchRule raftDependsOnlyOnBaseAndTheJdkBasics = classes()
      .that().resideInAPackage("io.holdfast.raft..")
      .should().onlyDependOnClassesThat().resideInAnyPackage("io.holdfast.raft..", "io.holdfast.base..", "java.lang..",
          "java.util..")
      .because("the Raft core is pure: effects leave it as data (Ready)");

  @ArchTest
  static final ArchRule baseDependsOnlyOnTheJdk = classes()
      .that().resideInAPackage("io.holdfast.base..")
      .should().onlyDependOnClassesThat().resideInAnyPackage("io.holdfast.base..", "java.lang..", "java.util..");

  @ArchTest
  static final ArchRule pureCodeDoesNoIoThreadsOrActors = noClasses()
      .that().resideInAnyPackage(PURE)
      .should().dependOnClassesThat().resideInAnyPackage("org.apache.pekko..", "scala..", "java.io..", "java.nio..",
          "java.net..", "java.util.concurrent..", "java.time..")
      .because("a deterministic core and simulator cannot depend on I/O, threads, clocks or actors");

  @ArchTest
  static final ArchRule pureCodeReadsNoClockAndNoGlobalRandomness = noClasses()
      .that().resideInAnyPackage(PURE)
      .should().callMethod(System.class, "currentTimeMillis")
      .orShould().callMethod(System.class, "nanoTime")
      .orShould().callMethod(Math.class, "random")
      .orShould().callMethod(UUID.class, "randomUUID")
      .orShould().dependOnClassesThat().areAssignableTo(Random.class)
      .orShould().dependOnClassesThat().areAssignableTo(ThreadLocalRandom.class)
      .orShould().dependOnClassesThat().areAssignableTo(Thread.class)
      .because("time is ticks and randomness comes from an injected seeded Prng");

  /** Negative control: the rules above do fire on a class that breaks them. */
  @org.junit.jupiter.api.Test
  void purityRulesCatchAnImpureClassInTheCore() {
    var impure = new com.tngtech.archunit.core.importer.ClassFileImporter()
        .importPackages("io.holdfast.raft")
        .that(com.tngtech.archunit.base.DescribedPredicate.describe("ImpureOnPurpose",
            c -> c.getSimpleName().equals("ImpureOnPurpose")));
    org.junit.jupiter.api.Assertions.assertEquals(1, impure.size());
    org.junit.jupiter.api.Assertions.assertTrue(pureCodeReadsNoClockAndNoGlobalRandomness.evaluate(impure).hasViolation());
    org.junit.jupiter.api.Assertions.assertTrue(pureCodeDoesNoIoThreadsOrActors.evaluate(impure).hasViolation());
  }

  @ArchTest
  static final ArchRule streamStateIsPure = classes()
      .that().resideInAPackage("io.holdfast.stream..")
      .should().onlyDependOnClassesThat().resideInAnyPackage("io.holdfast.stream..", "io.holdfast.raft.message..",
          "io.holdfast.base..", "java.lang..", "java.util..", "java.nio", "java.nio.charset")
      .because("every replica must apply the same commands to the same state, byte for byte (DESIGN.md §4)");

  @ArchTest
  static final ArchRule segmentStoreIsPureOverTheDiskSpi = noClasses()
      .that().resideInAPackage("io.holdfast.storage.segment..")
      .should().dependOnClassesThat().resideInAnyPackage("org.apache.pekko..", "scala..", "java.io..",
          "java.nio.file..", "java.nio.channels..", "java.net..", "java.util.concurrent..", "java.time..")
      .orShould().callMethod(System.class, "currentTimeMillis")
      .orShould().callMethod(System.class, "nanoTime")
      .because("the segment store reaches files only through the Disk SPI, so the simulator runs the same code"
          + " on its simulated disk");

  @ArchTest
  static final ArchRule theReplicaDriverAndItsMachinesArePure = noClasses()
      .that().resideInAPackage("io.holdfast.replica")
      .and().haveNameNotMatching("io\\.holdfast\\.replica\\.(ReplicaShell|Wire|CatchUps)(\\$.*)?")
      .should().dependOnClassesThat().resideInAnyPackage("org.apache.pekko..", "scala..", "java.io..",
          "java.nio.file..", "java.nio.channels..", "java.net..", "java.util.concurrent..", "java.time..")
      .orShould().callMethod(System.class, "currentTimeMillis")
      .orShould().callMethod(System.class, "nanoTime")
      .because("the replica's decisions run unchanged in the simulator: ReplicaShell only carries out their effects");

  @ArchTest
  static final ArchRule metaStateIsPure = classes()
      .that().resideInAPackage("io.holdfast.meta..")
      .should().onlyDependOnClassesThat().resideInAnyPackage("io.holdfast.meta..", "io.holdfast.stream..",
          "io.holdfast.raft.message..", "io.holdfast.base..", "java.lang..", "java.util..", "java.nio")
      .because("every meta replica must place streams and judge identities identically (D8, D9)");

  @ArchTest
  static final ArchRule storageSpiKnowsOnlyLogTypes = classes()
      .that().resideInAPackage("io.holdfast.storage")
      .should().onlyDependOnClassesThat().resideInAnyPackage("io.holdfast.storage", "io.holdfast.raft.message",
          "io.holdfast.base..", "java.lang..", "java.util..")
      .because("the storage SPI is small and independent of how Raft or files work");

  @ArchTest
  static final ArchRule onlyTheFileStoreAndTheShellTouchTheFileSystem = noClasses()
      .that().resideOutsideOfPackages("io.holdfast.storage.file..", "io.holdfast.cli..", "io.holdfast.node..",
          "io.holdfast.local..", "io.holdfast.torture..", "io.holdfast.security..")
      .should().dependOnClassesThat().resideInAnyPackage("java.nio.file..", "java.nio.channels..")
      .because("one package owns every file of a node (DESIGN.md §3); the tools around node processes (local"
          + " clusters, the fault campaign) handle their directories themselves; security reads the key stores"
          + " and PEM files the config names, and writes a local cluster's throwaway CA");

  @ArchTest
  static final ArchRule theNodeDoesNotDependOnItsTools = noClasses()
      .that().resideOutsideOfPackages("io.holdfast.cli..", "io.holdfast.local..", "io.holdfast.torture..")
      .should().dependOnClassesThat().resideInAnyPackage("io.holdfast.local..", "io.holdfast.torture..")
      .because("local clusters and the fault campaign drive nodes from outside, through processes and HTTP");

  @ArchTest
  static final ArchRule nothingImportsTheCommandLine = noClasses()
      .that().resideOutsideOfPackage("io.holdfast.cli..")
      .should().dependOnClassesThat().resideInAPackage("io.holdfast.cli..");
}

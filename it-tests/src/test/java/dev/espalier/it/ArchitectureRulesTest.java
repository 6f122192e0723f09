package dev.espalier.it;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import dev.espalier.kernels.TensorOps;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The layering of DESIGN.md, checked: protocol ← kernels ← engine ← cli. */
class ArchitectureRulesTest {
    private static JavaClasses classes;

    @BeforeAll
    static void importClasses() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS).importPackages("dev.espalier");
    }

    @Test
    void kernelsDependOnNeitherEngineNorCliNorProtocol() {
        noClasses().that().resideInAPackage("dev.espalier.kernels..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.espalier.engine..", "dev.espalier.cli..",
                        "dev.espalier.protocol..", "org.apache.pekko..", "com.google.protobuf..")
                .because("kernels are pure math: no actors, no protobuf, no engine").check(classes);
    }

    @Test
    void engineDoesNotDependOnCli() {
        noClasses().that().resideInAPackage("dev.espalier.engine..")
                .should().dependOnClassesThat().resideInAPackage("dev.espalier.cli..")
                .because("dependencies run one way: engine ← cli").check(classes);
    }

    @Test
    void protocolHoldsOnlyGeneratedCode() {
        noClasses().that().resideInAPackage("dev.espalier.protocol..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.espalier.kernels..", "dev.espalier.engine..", "dev.espalier.cli..")
                .because("protocol is generated from .proto files and depends on nothing of ours").check(classes);
    }

    @Test
    void actorsOrchestrateAndOnlyDeviceWorkersCompute() {
        noClasses().that().resideInAPackage("dev.espalier.engine.runtime..").and().doNotHaveSimpleName("DeviceWorker")
                .should().callMethodWhere(new DescribedPredicate<JavaMethodCall>("a TensorOps kernel") {
                    @Override
                    public boolean test(JavaMethodCall call) {
                        return call.getTargetOwner().isAssignableTo(TensorOps.class) && !call.getName().equals("close");
                    }
                })
                .because("the device workers are the only callers of the kernels; stages and supervisors only send messages")
                .check(classes);
    }

    @Test
    void vectorApiCodeLivesOnlyInKernels() {
        noClasses().that().resideOutsideOfPackage("dev.espalier.kernels..")
                .should().dependOnClassesThat().resideInAPackage("jdk.incubator.vector..")
                .because("kernels only in kernels: Vector API code is a TensorOps kernel, tested against the reference"
                        + " oracle by the contract test, never a loop inside method code")
                .check(classes);
    }

    @Test
    void kernelsBackendsAreNotUsedByMethodCodeDirectly() {
        noClasses().that().resideInAnyPackage("dev.espalier.engine.prune..", "dev.espalier.engine.forward..", "dev.espalier.engine.eval..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.espalier.kernels.cpu..", "dev.espalier.kernels.reference..")
                .because("method and forward code works through the TensorOps contract, never a concrete backend").check(classes);
    }

    @Test
    void packagesAreFreeOfCycles() {
        slices().matching("dev.espalier.(**)")
                .should().beFreeOfCycles()
                .because("each package builds on the ones below it, so it can be read, tested and moved without the packages above it")
                .check(classes);
    }

    @Test
    void benchmarksLiveInOnePackage() {
        classes().that().haveSimpleNameEndingWith("Benchmark").or().haveSimpleNameEndingWith("Bench")
                .should().resideInAPackage("dev.espalier.engine.bench")
                .because("the measurements behind `espalier bench` are found in one place; the verb only parses and prints").check(classes);
    }
}

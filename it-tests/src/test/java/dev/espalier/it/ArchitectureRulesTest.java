package dev.espalier.it;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaField;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.domain.JavaParameterizedType;
import com.tngtech.archunit.core.domain.JavaType;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.prune.LayerWork;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The layering of DESIGN.md, checked: protocol ← kernels ← engine ← cli. */
class ArchitectureRulesTest {
    private static JavaClasses classes;

    @BeforeAll
    static void importClasses() {
        classes = new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.espalier");
    }

    @Test
    void kernelsDependOnNeitherEngineNorCliNorProtocol() {
        noClasses()
                .that()
                .resideInAPackage("dev.espalier.kernels..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "dev.espalier.engine..",
                        "dev.espalier.cli..",
                        "dev.espalier.protocol..",
                        "org.apache.pekko..",
                        "com.google.protobuf..")
                .because("kernels are pure math: no actors, no protobuf, no engine")
                .check(classes);
    }

    @Test
    void engineDoesNotDependOnCli() {
        noClasses()
                .that()
                .resideInAPackage("dev.espalier.engine..")
                .should()
                .dependOnClassesThat()
                .resideInAPackage("dev.espalier.cli..")
                .because("dependencies run one way: engine ← cli")
                .check(classes);
    }

    @Test
    void protocolHoldsOnlyGeneratedCode() {
        noClasses()
                .that()
                .resideInAPackage("dev.espalier.protocol..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage("dev.espalier.kernels..", "dev.espalier.engine..", "dev.espalier.cli..")
                .because("protocol is generated from .proto files and depends on nothing of ours")
                .check(classes);
    }

    @Test
    void actorsOrchestrateAndOnlyDeviceWorkersCompute() {
        noClasses()
                .that()
                .resideInAPackage("dev.espalier.engine.runtime..")
                .and()
                .doNotHaveSimpleName("DeviceWorker")
                .should()
                .callMethodWhere(new DescribedPredicate<JavaMethodCall>("a TensorOps kernel") {
                    @Override
                    public boolean test(JavaMethodCall call) {
                        return call.getTargetOwner().isAssignableTo(TensorOps.class)
                                && !call.getName().equals("close")
                                && !isStatic(call); // a factory (CudaOps.open) opens a backend, it runs no kernel
                    }
                })
                .because(
                        "the device workers are the only callers of the kernels; stages and supervisors only send messages")
                .check(classes);
    }

    private static boolean isStatic(JavaMethodCall call) {
        return call.getTarget()
                .resolveMember()
                .map(m -> m.getModifiers().contains(JavaModifier.STATIC))
                .orElse(false);
    }

    @Test
    void vectorApiCodeLivesOnlyInKernels() {
        noClasses()
                .that()
                .resideOutsideOfPackage("dev.espalier.kernels..")
                .should()
                .dependOnClassesThat()
                .resideInAPackage("jdk.incubator.vector..")
                .because("kernels only in kernels: Vector API code is a TensorOps kernel, tested against the reference"
                        + " oracle by the contract test, never a loop inside method code")
                .check(classes);
    }

    @Test
    void kernelsBackendsAreNotUsedByMethodCodeDirectly() {
        noClasses()
                .that()
                .resideInAnyPackage(
                        "dev.espalier.engine.prune..", "dev.espalier.engine.forward..", "dev.espalier.engine.eval..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "dev.espalier.kernels.cpu..", "dev.espalier.kernels.cuda..", "dev.espalier.kernels.reference..")
                .because("method and forward code works through the TensorOps contract, never a concrete backend")
                .check(classes);
    }

    @Test
    void packagesAreFreeOfCycles() {
        slices().matching("dev.espalier.(**)")
                .should()
                .beFreeOfCycles()
                .because(
                        "each package builds on the ones below it, so it can be read, tested and moved without the packages above it")
                .check(classes);
    }

    @Test
    void benchmarksLiveInOnePackage() {
        classes()
                .that()
                .haveSimpleNameEndingWith("Benchmark")
                .or()
                .haveSimpleNameEndingWith("Bench")
                .should()
                .resideInAPackage("dev.espalier.engine.bench")
                .because(
                        "the measurements behind `espalier bench` are found in one place; the verb only parses and prints")
                .check(classes);
    }

    @Test
    void noActorIsTypedObject() {
        noObjectTypedActors("dev.espalier..").check(classes);
    }

    @Test
    void messagesCarryHandlesNotTensors() {
        messagesCarryHandles("dev.espalier.engine.runtime..").check(classes);
    }

    /** The two rules above can fail: each rejects a class that breaks it. */
    @Test
    void theActorRulesRejectWhatTheyForbid() {
        JavaClasses bad =
                new ClassFileImporter().importClasses(UntypedActor.class, TensorMessage.class, HandleMessage.class);
        AssertionError untyped = assertThrows(
                AssertionError.class,
                () -> noObjectTypedActors("dev.espalier.it..").check(bad));
        assertTrue(untyped.getMessage().contains("UntypedActor: extends"), untyped.getMessage());
        AssertionError tensor = assertThrows(
                AssertionError.class,
                () -> messagesCarryHandles("dev.espalier.it..").check(bad));
        assertTrue(tensor.getMessage().contains("TensorMessage.weights carries a Tensor"), tensor.getMessage());
        assertFalse(tensor.getMessage().contains("HandleMessage"), tensor.getMessage());
    }

    private static final class UntypedActor extends AbstractBehavior<Object> {
        private UntypedActor(ActorContext<Object> context) {
            super(context);
        }

        @Override
        public Receive<Object> createReceive() {
            return newReceiveBuilder().build();
        }
    }

    private interface Message {}

    private record TensorMessage(List<Tensor> weights) implements Message {}

    private record HandleMessage(long tensorId) implements Message {}

    private static ArchRule noObjectTypedActors(String packages) {
        return classes()
                .that()
                .resideInAPackage(packages)
                .should(
                        new ArchCondition<JavaClass>(
                                "declare no actor, actor reference or behaviour of message type Object") {
                            @Override
                            public void check(JavaClass c, ConditionEvents events) {
                                for (String where : untypedActors(c)) {
                                    events.add(SimpleConditionEvent.violated(c, c.getName() + ": " + where));
                                }
                            }
                        })
                .because("an actor's protocol is a sealed interface: the compiler then checks every tell, and a reader"
                        + " finds every message it handles in one place, instead of casts behind Object");
    }

    private static ArchRule messagesCarryHandles(String packages) {
        Set<String> forbidden = Set.of(
                Tensor.class.getName(),
                LlamaModel.class.getName(),
                DecoderLayerWeights.class.getName(),
                LayerWork.class.getName());
        return classes()
                .that()
                .resideInAPackage(packages)
                .and()
                .areAssignableTo(Record.class)
                .and(new DescribedPredicate<JavaClass>("are messages (implement an interface)") {
                    @Override
                    public boolean test(JavaClass c) {
                        return !c.getRawInterfaces().isEmpty();
                    }
                })
                .should(new ArchCondition<JavaClass>("have no component of a tensor, model or layer-weights type") {
                    @Override
                    public void check(JavaClass c, ConditionEvents events) {
                        for (JavaField f : c.getFields()) {
                            f.getType().getAllInvolvedRawTypes().stream()
                                    .filter(t -> forbidden.contains(
                                            t.getBaseComponentType().getName()))
                                    .forEach(t -> events.add(SimpleConditionEvent.violated(
                                            c, c.getName() + "." + f.getName() + " carries a " + t.getSimpleName())));
                        }
                    }
                })
                .because("a tensor stays on the worker (the device) that owns it and messages carry handles"
                        + " (ActivationRef, ModelRef, ProblemRef): on a GPU a message holding a tensor would hand another"
                        + " actor device memory it cannot touch");
    }

    private static final Set<String> ACTOR_TYPES = Set.of(
            Behavior.class.getName(),
            ActorRef.class.getName(),
            AbstractBehavior.class.getName(),
            ActorContext.class.getName(),
            Receive.class.getName());

    /** Where {@code c} names an actor type (behaviour, reference, context) whose message type is Object. */
    private static List<String> untypedActors(JavaClass c) {
        List<String> found = new ArrayList<>();
        c.getSuperclass()
                .filter(ArchitectureRulesTest::isObjectTypedActor)
                .ifPresent(t -> found.add("extends " + t.getName()));
        c.getFields().stream()
                .filter(f -> isObjectTypedActor(f.getType()))
                .forEach(f -> found.add("field " + f.getName()));
        c.getMethods()
                .forEach(m -> Stream.concat(Stream.of(m.getReturnType()), m.getParameterTypes().stream())
                        .filter(ArchitectureRulesTest::isObjectTypedActor)
                        .findAny()
                        .ifPresent(t -> found.add("method " + m.getName() + " uses " + t.getName())));
        c.getConstructors()
                .forEach(k -> k.getParameterTypes().stream()
                        .filter(ArchitectureRulesTest::isObjectTypedActor)
                        .findAny()
                        .ifPresent(t -> found.add("constructor takes " + t.getName())));
        return found;
    }

    private static boolean isObjectTypedActor(JavaType type) {
        return type instanceof JavaParameterizedType p
                && ACTOR_TYPES.contains(p.toErasure().getName())
                && !p.getActualTypeArguments().isEmpty()
                && p.getActualTypeArguments().getFirst().toErasure().isEquivalentTo(Object.class)
                && p.getActualTypeArguments().getFirst() instanceof JavaClass;
    }
}

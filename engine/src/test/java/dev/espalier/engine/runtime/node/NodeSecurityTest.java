package dev.espalier.engine.runtime.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.job.JobSpecs;
import dev.espalier.protocol.v1.EspalierNodeGrpc;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.ListJobsRequest;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.SparseGptSettings;
import dev.espalier.protocol.v1.SparsityPattern;
import dev.espalier.protocol.v1.SubmitJobRequest;
import dev.espalier.protocol.v1.UnstructuredSettings;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.Key;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The node's guards: its token on every call, TLS beyond loopback, outputs only in the allowed folders, submit's validation. */
@Timeout(60)
class NodeSecurityTest {

    @TempDir
    Path tmp;

    private Path home() {
        return tmp.resolve("home");
    }

    private NodeOptions options() {
        return NodeOptions.defaults(home()).withPort(0);
    }

    private static JobSpec spec(Path output) {
        return NodeTest.spec("/m/a").toBuilder().setOutput(output.toString()).build();
    }

    private static String submit(NodeClient client, JobSpec spec) {
        return client.blocking(10)
                .submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build())
                .getJobId();
    }

    private static int jobs(NodeClient client) {
        return client.blocking(10)
                .listJobs(ListJobsRequest.getDefaultInstance())
                .getJobsCount();
    }

    @Test
    void callsWithoutTheTokenOrWithAWrongOneAreRefusedAsUnauthenticated() throws Exception {
        try (Node node = Node.start(options(), spec -> new FakeExecutor(1, -1));
                NodeClient wrong = NodeClient.connect(node.address(), NodeToken.of("0".repeat(64)));
                NodeClient client = NodeClient.connect(node.address(), node.token())) {
            ManagedChannel bare = Grpc.newChannelBuilderForAddress(
                            node.address().host(), node.address().port(), InsecureChannelCredentials.create())
                    .build();
            String whereFrom = "clients send the token in "
                    + home().toAbsolutePath().resolve("node.token") + " on the node's machine"
                    + " (the client verbs read ESPALIER_NODE_TOKEN when set, else <home>/node.token)";
            try {
                StatusRuntimeException e = assertThrows(
                        StatusRuntimeException.class,
                        () -> EspalierNodeGrpc.newBlockingStub(bare)
                                .withDeadlineAfter(10, TimeUnit.SECONDS)
                                .submitJob(SubmitJobRequest.newBuilder()
                                        .setSpec(spec(home().resolve("out")))
                                        .build()));
                assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
                assertEquals(
                        "this node requires a token (metadata 'authorization: Bearer <token>') and the call had none; "
                                + whereFrom,
                        e.getStatus().getDescription());
            } finally {
                bare.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
            StatusRuntimeException e =
                    assertThrows(StatusRuntimeException.class, () -> submit(wrong, spec(home().resolve("out"))));
            assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
            assertEquals("wrong node token; " + whereFrom, e.getStatus().getDescription());
            assertThrows(StatusRuntimeException.class, () -> jobs(wrong));

            assertEquals(0, jobs(client));
        }
    }

    @Test
    void tokenFileIsOwnerOnlyRandomAndReusedOnRestart() throws Exception {
        String first;
        try (Node node = Node.start(options(), spec -> new FakeExecutor(1, -1))) {
            first = node.token().value();
        }
        Path file = home().resolve("node.token");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertTrue(first.matches("[0-9a-f]{64}"), first);
        assertEquals(first + "\n", Files.readString(file, StandardCharsets.UTF_8));
        try (Node node = Node.start(options(), spec -> new FakeExecutor(1, -1))) {
            assertEquals(first, node.token().value());
            assertEquals("NodeToken[hidden]", node.token().toString());
        }
        assertNotEquals(
                first,
                NodeToken.createOrReuse(Files.createDirectories(tmp.resolve("other")))
                        .value());
    }

    @Test
    void tokenFileThatOthersCanReadIsRefused() throws Exception {
        Files.createDirectories(home());
        Path file = Files.writeString(home().resolve("node.token"), "ab".repeat(32));
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        IllegalStateException e =
                assertThrows(IllegalStateException.class, () -> Node.start(options(), spec -> new FakeExecutor(1, -1)));
        assertEquals(
                file.toAbsolutePath() + " has permissions rw-r--r--; expected rw------- (owner only): run `chmod 600 "
                        + file.toAbsolutePath() + "`, or delete it for a new token",
                e.getMessage());
    }

    @Test
    void clientTakesTheEnvironmentBeforeTheHomesFileAndNamesBothWhenNeitherHasOne() throws Exception {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> NodeToken.forClient(empty, Map.of()));
        assertEquals(
                "no node token: ESPALIER_NODE_TOKEN is not set and " + empty.resolve("node.token")
                        + " does not exist (`espalier serve --home " + empty
                        + "` writes it; or set ESPALIER_NODE_TOKEN)",
                e.getMessage());

        String written = NodeToken.createOrReuse(home().getParent()).value();
        assertEquals(written, NodeToken.forClient(tmp, Map.of()).value());
        assertEquals(
                "from-env",
                NodeToken.forClient(tmp, Map.of("ESPALIER_NODE_TOKEN", " from-env\n"))
                        .value());
        assertEquals(
                written,
                NodeToken.forClient(tmp, Map.of("ESPALIER_NODE_TOKEN", " ")).value());
    }

    @Test
    void outputOutsideTheAllowedFoldersIsRefusedAndNothingIsCreated() throws Exception {
        Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
        Files.createDirectories(home());
        Path link = Files.createSymbolicLink(home().resolve("link"), elsewhere);
        try (Node node = Node.start(options(), spec -> new FakeExecutor(1, -1));
                NodeClient client = NodeClient.connect(node.address(), node.token())) {
            Path realHome = home().toRealPath();
            StatusRuntimeException e =
                    assertThrows(StatusRuntimeException.class, () -> submit(client, spec(elsewhere.resolve("out"))));
            assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode());
            assertEquals(
                    "output " + elsewhere.resolve("out") + " is not inside the node's allowed output folders ["
                            + realHome + "]; write under one of them, or start the node with --allow-out <dir>",
                    e.getStatus().getDescription());

            e = assertThrows(StatusRuntimeException.class, () -> submit(client, spec(link.resolve("out"))));
            assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode());
            assertTrue(
                    e.getStatus()
                            .getDescription()
                            .startsWith("output " + link.resolve("out") + " (resolves to "
                                    + elsewhere.toRealPath().resolve("out") + ") is not inside"),
                    e.getStatus().getDescription());

            e = assertThrows(
                    StatusRuntimeException.class, () -> submit(client, spec(home().resolve("runs/../../escape"))));
            assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode());

            assertEquals(0, jobs(client));
            assertFalse(Files.exists(elsewhere.resolve("out")));
            assertFalse(Files.exists(tmp.resolve("escape")));
            submit(client, spec(home().resolve("runs/out")));
            assertEquals(1, jobs(client));
        }
        try (Node node = Node.start(options().withAllowedOutputs(List.of(elsewhere)), spec -> new FakeExecutor(1, -1));
                NodeClient client = NodeClient.connect(node.address(), node.token())) {
            submit(client, spec(elsewhere.resolve("out")));
            assertThrows(StatusRuntimeException.class, () -> submit(client, spec(home().resolve("runs/out"))));
        }
    }

    @Test
    void invalidSettingIsRefusedAtSubmitWithTheValidatorsMessageAndNoJobIsCreated() {
        JobSpec bad = spec(home().resolve("out")).toBuilder()
                .setMethod(PruneMethod.PRUNE_METHOD_SPARSEGPT)
                .setPattern(SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED)
                .setUnstructured(UnstructuredSettings.newBuilder()
                        .setSparsegpt(SparseGptSettings.newBuilder().setBlocksize(0)))
                .build();
        IllegalArgumentException expected = assertThrows(IllegalArgumentException.class, () -> JobSpecs.validate(bad));
        try (Node node = Node.start(options(), spec -> new FakeExecutor(1, -1));
                NodeClient client = NodeClient.connect(node.address(), node.token())) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> submit(client, bad));
            assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
            assertEquals(expected.getMessage(), e.getStatus().getDescription());
            assertEquals(
                    "invalid job spec: unstructured.sparsegpt.blocksize must be ≥ 1, got 0",
                    e.getStatus().getDescription());
            assertEquals(0, jobs(client));
        }
    }

    @Test
    void nonLoopbackBindWithoutTlsIsRefused() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> Node.start(options().withBindAddress("0.0.0.0"), spec -> new FakeExecutor(1, -1)));
        assertEquals(
                "refusing to listen on 0.0.0.0: beyond loopback the node requires TLS (--tls-cert FILE --tls-key FILE),"
                        + " and TLS is not configured; bind 127.0.0.1 or give a certificate and key",
                e.getMessage());
        assertFalse(Files.exists(home().resolve(NodeAddress.PORT_FILE)));
    }

    @Test
    void nonLoopbackBindWithTlsServesClientsThatTrustItsCertificateAndStillRequiresTheToken() throws Exception {
        NodeTls tls = selfSignedCertificate();
        try (Node node =
                        Node.start(options().withBindAddress("0.0.0.0").withTls(tls), spec -> new FakeExecutor(1, -1));
                NodeClient client = NodeClient.connect(
                        node.address(),
                        node.token(),
                        TlsChannelCredentials.newBuilder()
                                .trustManager(tls.certificate().toFile())
                                .build());
                NodeClient wrong = NodeClient.connect(
                        node.address(),
                        NodeToken.of("0".repeat(64)),
                        TlsChannelCredentials.newBuilder()
                                .trustManager(tls.certificate().toFile())
                                .build());
                NodeClient plaintext = NodeClient.connect(node.address(), node.token())) {
            submit(client, spec(home().resolve("out")));
            assertEquals(1, jobs(client));
            assertEquals(
                    Status.Code.UNAUTHENTICATED,
                    assertThrows(StatusRuntimeException.class, () -> jobs(wrong))
                            .getStatus()
                            .getCode());
            assertEquals(
                    Status.Code.UNAVAILABLE,
                    assertThrows(StatusRuntimeException.class, () -> jobs(plaintext))
                            .getStatus()
                            .getCode());
        }
    }

    @Test
    void unusableTlsFilesAreRefusedNamingBoth() throws Exception {
        Path cert = Files.writeString(tmp.resolve("node.crt"), "not a certificate");
        Path key = Files.writeString(tmp.resolve("node.key"), "not a key");
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> Node.start(
                        options().withBindAddress("0.0.0.0").withTls(new NodeTls(cert, key)),
                        spec -> new FakeExecutor(1, -1)));
        assertTrue(
                e.getMessage()
                        .startsWith("--tls-cert " + cert + " / --tls-key " + key
                                + ": not a usable PEM certificate chain and PKCS#8 key ("),
                e.getMessage());
        assertFalse(Files.exists(home().resolve(NodeAddress.PORT_FILE)));
        assertEquals(
                "--tls-cert " + tmp.resolve("missing.crt") + ": not a file (expected a PEM file)",
                assertThrows(IllegalArgumentException.class, () -> new NodeTls(tmp.resolve("missing.crt"), key))
                        .getMessage());
    }

    /** A certificate for 127.0.0.1 made with the JDK's keytool, written as the PEM files the node reads. */
    private NodeTls selfSignedCertificate() throws Exception {
        Path store = tmp.resolve("node.p12");
        char[] password = "changeit".toCharArray();
        Process keytool = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "keytool")
                                .toString(),
                        "-genkeypair",
                        "-alias",
                        "node",
                        "-keyalg",
                        "EC",
                        "-groupname",
                        "secp256r1",
                        "-dname",
                        "CN=localhost",
                        "-ext",
                        "san=ip:127.0.0.1",
                        "-validity",
                        "2",
                        "-storetype",
                        "PKCS12",
                        "-keystore",
                        store.toString(),
                        "-storepass",
                        "changeit")
                .redirectErrorStream(true)
                .start();
        String log = new String(keytool.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, keytool.waitFor(), log);
        KeyStore keys = KeyStore.getInstance("PKCS12");
        try (var in = Files.newInputStream(store)) {
            keys.load(in, password);
        }
        Certificate certificate = keys.getCertificate("node");
        Key key = keys.getKey("node", password);
        Path cert = Files.writeString(tmp.resolve("node.crt"), pem("CERTIFICATE", certificate.getEncoded()));
        Path pkcs8 = Files.writeString(tmp.resolve("node.key"), pem("PRIVATE KEY", key.getEncoded()));
        return new NodeTls(cert, pkcs8);
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                        .encodeToString(der) + "\n-----END " + type + "-----\n";
    }
}

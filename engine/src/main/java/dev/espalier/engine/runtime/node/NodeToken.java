package dev.espalier.engine.runtime.node;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;

/**
 * The secret every call to a node carries ({@code authorization: Bearer <token>}): 32 random bytes in hex, kept in
 * {@code <home>/node.token} (owner-only, rw-------). The node creates it on its first start and reuses it after; a
 * client takes {@code ESPALIER_NODE_TOKEN} when set, else that file.
 */
public final class NodeToken {
    /** The file, in the node's home, that holds the token. */
    public static final String FILE = "node.token";
    /** The environment variable a client reads the token from before trying {@code <home>/node.token}. */
    public static final String ENV = "ESPALIER_NODE_TOKEN";

    private static final int BYTES = 32;
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    private final String value;

    private NodeToken(String value) {
        this.value = value;
    }

    /** A token given as text (from the environment or a file); IllegalArgumentException when it is blank. */
    public static NodeToken of(String text) {
        String t = text.strip();
        if (t.isEmpty()) {
            throw new IllegalArgumentException("the node token is empty");
        }
        return new NodeToken(t);
    }

    /**
     * The node's token: the one in {@code <home>/node.token} when it exists (it must be owner-only and hold 64 hex
     * digits), else a new random one written there atomically, owner-only from its creation. Nodes of a cluster that
     * start at the same time over one shared folder all end up with the one token that was written first.
     */
    public static NodeToken createOrReuse(Path home) {
        Path file = home.resolve(FILE);
        try {
            if (Files.exists(file)) {
                return reuse(file);
            }
            byte[] random = new byte[BYTES];
            RANDOM.nextBytes(random);
            String token = HexFormat.of().formatHex(random);
            return writeOwnerOnlyOnce(file, token) ? new NodeToken(token) : reuse(file);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot create the node token (" + e.getMessage() + ")", e);
        }
    }

    /**
     * The token a client sends to the node of {@code home}: {@code env}'s ESPALIER_NODE_TOKEN when set, else
     * {@code <home>/node.token}; IllegalStateException naming both places when neither has one.
     */
    public static NodeToken forClient(Path home, Map<String, String> env) {
        String fromEnv = env.get(ENV);
        if (fromEnv != null && !fromEnv.isBlank()) {
            return of(fromEnv);
        }
        Path file = home.toAbsolutePath().resolve(FILE);
        try {
            return of(Files.readString(file, StandardCharsets.UTF_8));
        } catch (NoSuchFileException e) {
            throw new IllegalStateException("no node token: " + ENV + " is not set and " + file
                    + " does not exist (`espalier serve --home " + home + "` writes it; or set " + ENV + ")");
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read the node token (" + e.getMessage() + ")", e);
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException(file + " is empty: expected the node token written by `espalier serve`");
        }
    }

    /** {@link #forClient(Path, Map)} with this process's environment. */
    public static NodeToken forClient(Path home) {
        return forClient(home, System.getenv());
    }

    /** Whether {@code presented} is this token, in time that does not depend on where they differ. */
    public boolean matches(String presented) {
        return presented != null
                && MessageDigest.isEqual(
                        value.getBytes(StandardCharsets.UTF_8), presented.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * What the node {@code node} of a cluster sends to show it holds this token without sending the token: the hex
     * SHA-256 of a fixed label, the token and the node's name.
     */
    public String proofFor(String node) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256")
                    .digest(("espalier-cluster-join\n" + value + "\n" + node).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    /** Whether {@code proof} is {@link #proofFor} {@code node}, in time that does not depend on where they differ. */
    public boolean proves(String proof, String node) {
        return proof != null
                && MessageDigest.isEqual(
                        proofFor(node).getBytes(StandardCharsets.UTF_8), proof.getBytes(StandardCharsets.UTF_8));
    }

    /** The token itself, for the {@code authorization} header. */
    public String value() {
        return value;
    }

    /** Never the token: it must not reach a log. */
    @Override
    public String toString() {
        return "NodeToken[hidden]";
    }

    private static NodeToken reuse(Path file) throws IOException {
        if (isPosix()) {
            Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file);
            if (!OWNER_ONLY.containsAll(permissions)) {
                throw new IllegalStateException(file + " has permissions " + PosixFilePermissions.toString(permissions)
                        + "; expected rw------- (owner only): run `chmod 600 " + file
                        + "`, or delete it for a new token");
            }
        }
        String token = Files.readString(file, StandardCharsets.UTF_8).strip();
        if (!token.matches("[0-9a-f]{" + 2 * BYTES + "}")) {
            throw new IllegalStateException(file + " does not hold a node token (expected " + 2 * BYTES
                    + " hex digits); delete it for a new one");
        }
        return new NodeToken(token);
    }

    /**
     * Writes this token to {@code <home>/node.token} (owner-only, replacing what is there): a cluster node's copy of
     * the cluster's token, for the client verbs on its machine.
     */
    public void copyInto(Path home) {
        Path file = home.resolve(FILE);
        try {
            if (Files.exists(file) && reuse(file).value.equals(value)) {
                return;
            }
            Files.deleteIfExists(file);
            if (!writeOwnerOnlyOnce(file, value)) {
                throw new IllegalStateException(file + ": another process wrote a token at the same time");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot write the node token (" + e.getMessage() + ")", e);
        }
    }

    /** Writes {@code token} to {@code file} unless it exists; false when another process wrote it first. */
    private static boolean writeOwnerOnlyOnce(Path file, String token) throws IOException {
        FileAttribute<?>[] attributes = isPosix()
                ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(OWNER_ONLY)}
                : new FileAttribute<?>[0];
        Path tmp = Files.createTempFile(file.getParent(), FILE, ".tmp", attributes);
        try {
            Files.writeString(tmp, token + "\n", StandardCharsets.UTF_8);
            try {
                Files.createLink(file, tmp); // atomic, and refuses to replace a token another node wrote first
            } catch (FileAlreadyExistsException e) {
                return false;
            } catch (UnsupportedOperationException e) {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
            }
            return true;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static boolean isPosix() {
        return FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
    }
}

package dev.espalier.engine.runtime.node;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The node's TLS identity ({@code serve --tls-cert FILE --tls-key FILE}), required to listen beyond loopback.
 *
 * @param certificate PEM certificate chain the node presents
 * @param privateKey  PEM (PKCS#8) private key of that certificate
 */
public record NodeTls(Path certificate, Path privateKey) {
    public NodeTls {
        requireFile("--tls-cert", certificate);
        requireFile("--tls-key", privateKey);
    }

    private static void requireFile(String flag, Path file) {
        if (file == null || !Files.isRegularFile(file)) {
            throw new IllegalArgumentException(flag + " " + file + ": not a file (expected a PEM file)");
        }
    }
}

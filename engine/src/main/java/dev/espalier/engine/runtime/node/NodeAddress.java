package dev.espalier.engine.runtime.node;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Where a client reaches a node: {@code host:port}, as typed after {@code --node} or read from {@code <home>/node.port}. */
public record NodeAddress(String host, int port) {
    /** The file, in the node's home, that holds the address a local client should use. */
    public static final String PORT_FILE = "node.port";

    public NodeAddress {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("node port must be in [1, 65535], got " + port);
        }
    }

    /** Parses "host:port", "[::1]:port" or a bare "port" (meaning 127.0.0.1). */
    public static NodeAddress parse(String text) {
        String t = text.strip();
        int colon = t.lastIndexOf(':');
        String host = colon < 0 ? NodeOptions.DEFAULT_BIND : t.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        try {
            int port = Integer.parseInt(t.substring(colon + 1));
            if (host.isEmpty()) {
                throw new NumberFormatException();
            }
            return new NodeAddress(host, port);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("node address '" + text + "' must be host:port, e.g. 127.0.0.1:7070");
        }
    }

    /** The address in {@code <home>/node.port}; IllegalStateException naming the file when no node wrote one. */
    public static NodeAddress fromHome(Path home) {
        Path file = home.resolve(PORT_FILE);
        try {
            return parse(Files.readString(file, StandardCharsets.UTF_8));
        } catch (NoSuchFileException e) {
            throw new IllegalStateException(file + " not found: no node has been started with this home");
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot be read (" + e.getMessage() + ")", e);
        }
    }

    /** The address a client on this machine uses to reach a server bound to {@code bindAddress}:{@code port}. */
    static NodeAddress forLocalClient(String bindAddress, int port) {
        try {
            boolean wildcard = InetAddress.getByName(bindAddress).isAnyLocalAddress();
            return new NodeAddress(wildcard ? NodeOptions.DEFAULT_BIND : bindAddress, port);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("bind address '" + bindAddress + "' is not a known host or address");
        }
    }

    @Override
    public String toString() {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
}

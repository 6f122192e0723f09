package dev.espalier.engine.runtime.node;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The folders a job of this node may write its output to ({@code serve --allow-out}). An output is inside one when its
 * path, normalised and with the symlinks of its longest existing ancestor resolved, lies under the folder's real path:
 * {@code allowed/link/x} with {@code link -> /etc} is {@code /etc/x}, outside.
 */
final class AllowedOutputs {
    private final List<Path> folders; // real, absolute

    AllowedOutputs(List<Path> folders) {
        if (folders.isEmpty()) {
            throw new IllegalArgumentException("at least one allowed output folder is required");
        }
        this.folders = folders.stream().map(AllowedOutputs::resolve).toList();
    }

    List<Path> folders() {
        return folders;
    }

    /** Why {@code output} (absolute) may not be written by a job of this node; empty when it may. */
    Optional<String> problem(String output) {
        Path given = Path.of(output);
        Path resolved;
        try {
            resolved = resolve(given);
        } catch (UncheckedIOException e) {
            return Optional.of("output " + output + " cannot be checked against the node's allowed output folders: "
                    + e.getMessage());
        }
        if (folders.stream().anyMatch(resolved::startsWith)) {
            return Optional.empty();
        }
        String shown = resolved.equals(given.normalize()) ? output : output + " (resolves to " + resolved + ")";
        return Optional.of("output " + shown + " is not inside the node's allowed output folders ["
                + folders.stream().map(Path::toString).collect(Collectors.joining(", "))
                + "]; write under one of them, or start the node with --allow-out <dir>");
    }

    /** {@code path} absolute and normalised, its longest existing ancestor replaced by that ancestor's real path. */
    private static Path resolve(Path path) {
        Path absolute = path.toAbsolutePath().normalize();
        Path existing = absolute;
        while (existing != null && !Files.exists(existing, LinkOption.NOFOLLOW_LINKS)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return absolute;
        }
        try {
            return existing.toRealPath().resolve(existing.relativize(absolute)).normalize();
        } catch (IOException e) {
            throw new UncheckedIOException(existing + ": cannot be resolved (" + e.getMessage() + ")", e);
        }
    }
}

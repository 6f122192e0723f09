package dev.espalier.engine.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * A folder Espalier writes whole (an exported model): built in a staging sibling {@code .<name>.partial}, marked by
 * {@code espalier.json} (who wrote it, for which job, and the files it wrote), then swapped onto its path.
 *
 * <p>Espalier never deletes or replaces anything it did not write. An existing path is replaced only when it is an
 * Espalier output ({@link #MARKER}) holding nothing but the files its marker lists, and either it was written by the
 * same job (a resumed run exporting again) or the user asked to overwrite; anything else is refused with an
 * {@link OutputConflictException} that names the path and what to do. The staging folder and the folder an
 * overwritten output is moved aside to ({@code .<name>.replaced}) are cleared only when they carry Espalier's marks.
 */
public final class OutputFolder {
    /** The marker file of an Espalier output. */
    public static final String MARKER = "espalier.json";

    private static final String STAGING_MARK = ".espalier-staging";
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private OutputFolder() {}

    /** What an output's {@link #MARKER} says: the job that wrote it and the files it wrote (relative, '/'-separated). */
    public record Marker(String jobId, List<String> files) {}

    /**
     * Checks that job {@code jobId} may write its output at {@code out}: nothing is there, or an Espalier output of the
     * same job, or (with {@code overwrite}) one of another job that holds only Espalier's files.
     *
     * @throws OutputConflictException naming {@code out}, what is there and what to do
     */
    public static void checkReplaceable(Path out, String jobId, boolean overwrite) {
        Path path = out.toAbsolutePath();
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            Path parent = path.getParent();
            if (parent != null && Files.exists(parent) && !Files.isDirectory(parent)) {
                throw new OutputConflictException(path + ": its parent " + parent + " is a file, not a folder");
            }
            return;
        }
        if (Files.isSymbolicLink(path) || !Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
            throw new OutputConflictException(
                    path + " already exists and is " + (Files.isSymbolicLink(path) ? "a link" : "a file")
                            + "; Espalier never replaces what it did not write: choose a new --out path");
        }
        Marker marker = marker(path)
                .orElseThrow(
                        () -> new OutputConflictException(
                                path + " already exists and is not an Espalier" + " output (no " + MARKER
                                        + "); Espalier never replaces what it did not write: choose a new --out path or move it away"));
        if (!marker.jobId().equals(jobId) && !overwrite) {
            throw new OutputConflictException(path + " already holds the output of job " + marker.jobId()
                    + "; pass --overwrite to replace it, or choose a new --out path");
        }
        List<String> foreign = foreignFiles(path, marker);
        if (!foreign.isEmpty()) {
            throw new OutputConflictException(path + " holds files Espalier did not write ("
                    + String.join(", ", foreign.subList(0, Math.min(5, foreign.size())))
                    + (foreign.size() > 5 ? ", …" : "") + "); move them away first: Espalier replaces"
                    + " only its own files");
        }
    }

    /** The marker of {@code folder}; empty when it has none or one Espalier cannot read. */
    public static Optional<Marker> marker(Path folder) {
        Path file = folder.resolve(MARKER);
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            return Optional.empty();
        }
        try {
            JsonNode json = JSON.readTree(file.toFile());
            JsonNode files = json == null ? null : json.get("files");
            if (json == null
                    || !"espalier".equals(json.path("written_by").asText())
                    || !json.path("job_id").isTextual()
                    || files == null
                    || !files.isArray()) {
                return Optional.empty();
            }
            List<String> names = new ArrayList<>();
            files.forEach(name -> names.add(name.asText()));
            return Optional.of(new Marker(json.get("job_id").asText(), List.copyOf(names)));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * The empty staging folder of {@code out}, {@code .<name>.partial} beside it, marked as Espalier's. A staging
     * folder left by an interrupted export is cleared when it carries Espalier's mark, refused otherwise.
     */
    public static Path prepareStaging(Path out) {
        Path staging = sibling(out, ".partial");
        try {
            AtomicFiles.ensureDirectory(staging.getParent());
            clearOwn(staging);
            clearOwn(sibling(out, ".replaced"));
            Files.createDirectory(staging);
            Files.writeString(
                    staging.resolve(STAGING_MARK),
                    "staging folder of an Espalier export to " + out.toAbsolutePath() + "\n");
            return staging;
        } catch (IOException e) {
            throw new UncheckedIOException(staging + ": cannot be prepared (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Marks {@code staging} (from {@link #prepareStaging}) as job {@code jobId}'s output and moves it onto {@code out}
     * after checking once more that {@code out} may be replaced; a replaced output is moved aside first and deleted only
     * after the new one is in place. Every step is a rename, so a crash leaves either output whole.
     */
    public static void commit(Path staging, Path out, String jobId, boolean overwrite) {
        Path path = out.toAbsolutePath();
        checkReplaceable(path, jobId, overwrite);
        try {
            Files.deleteIfExists(staging.resolve(STAGING_MARK));
            AtomicFiles.write(
                    staging.resolve(MARKER), markerJson(jobId, filesOf(staging)).getBytes(StandardCharsets.UTF_8));
            Path aside = sibling(path, ".replaced");
            boolean replacing = Files.exists(path, LinkOption.NOFOLLOW_LINKS);
            if (replacing) {
                clearOwn(aside);
                Files.move(path, aside, StandardCopyOption.ATOMIC_MOVE);
            }
            Files.move(staging, path, StandardCopyOption.ATOMIC_MOVE);
            AtomicFiles.fsyncDirectory(path.getParent());
            if (replacing) {
                AtomicFiles.deleteRecursively(aside);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(path + ": cannot be written (" + e.getMessage() + ")", e);
        }
    }

    private static String markerJson(String jobId, List<String> files) {
        ObjectNode json = JSON.createObjectNode().put("written_by", "espalier").put("job_id", jobId);
        files.forEach(json.putArray("files")::add);
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(json) + "\n";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<String> foreignFiles(Path folder, Marker marker) {
        TreeSet<String> own = new TreeSet<>(marker.files());
        own.add(MARKER);
        return filesOf(folder).stream().filter(f -> !own.contains(f)).toList();
    }

    /** The regular files and links under {@code folder}, relative and '/'-separated, sorted. */
    private static List<String> filesOf(Path folder) {
        try (Stream<Path> walk = Files.walk(folder)) {
            return walk.filter(p -> !Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS))
                    .map(p -> folder.relativize(p).toString().replace('\\', '/'))
                    .sorted()
                    .toList();
        } catch (IOException | UncheckedIOException e) {
            throw new UncheckedIOException(
                    folder + ": cannot be listed (" + e.getMessage() + ")",
                    e instanceof IOException io ? io : ((UncheckedIOException) e).getCause());
        }
    }

    /** Deletes {@code folder} when it carries Espalier's staging mark or marker; refuses anything else there. */
    private static void clearOwn(Path folder) throws IOException {
        if (!Files.exists(folder, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        boolean ours = Files.isDirectory(folder, LinkOption.NOFOLLOW_LINKS)
                && (Files.isRegularFile(folder.resolve(STAGING_MARK), LinkOption.NOFOLLOW_LINKS)
                        || marker(folder).isPresent()
                        || isEmpty(folder));
        if (!ours) {
            throw new OutputConflictException(
                    folder + " exists and was not made by Espalier; Espalier uses this name while"
                            + " exporting: move it away");
        }
        AtomicFiles.deleteRecursively(folder);
    }

    private static boolean isEmpty(Path folder) throws IOException {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(folder)) {
            return !entries.iterator().hasNext();
        }
    }

    private static Path sibling(Path out, String suffix) {
        Path absolute = out.toAbsolutePath();
        return absolute.getParent().resolve("." + absolute.getFileName() + suffix);
    }

    /** An output path holds something Espalier may not replace. */
    public static final class OutputConflictException extends IllegalArgumentException {
        public OutputConflictException(String message) {
            super(message);
        }
    }
}

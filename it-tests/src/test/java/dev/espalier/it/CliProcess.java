package dev.espalier.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the CLI in a JVM of its own (so that it can be killed), with this test's class path and the project's JVM flags. */
record CliProcess(int exitCode, String out, String err) {

    /** The command line that runs the CLI with {@code args} in a JVM of its own. */
    static List<String> command(List<String> jvmOptions, String... args) {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules",
                "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow",
                "-Xmx2g"));
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.espalier.cli.EspalierCli"));
        command.addAll(List.of(args));
        return command;
    }

    static CliProcess run(Path workDir, List<String> jvmOptions, String... args)
            throws IOException, InterruptedException {
        List<String> command = command(jvmOptions, args);
        Files.createDirectories(workDir);
        Path out = Files.createTempFile(workDir, "out", ".txt");
        Path err = Files.createTempFile(workDir, "err", ".txt");
        Process p = new ProcessBuilder(command)
                .directory(workDir.toFile())
                .redirectOutput(out.toFile())
                .redirectError(err.toFile())
                .start();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("espalier " + String.join(" ", args) + " did not finish in 300 s");
        }
        return new CliProcess(
                p.exitValue(),
                Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }
}

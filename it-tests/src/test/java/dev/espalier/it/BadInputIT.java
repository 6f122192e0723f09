package dev.espalier.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every kind of bad input gives one line on stderr that names the file (or option) and the problem, a non-zero exit,
 * no stack trace unless --verbose, and leaves nothing half-written.
 */
class BadInputIT {
    @TempDir
    Path tmp;

    private Path copyOfHfModel() throws IOException {
        Path dir = tmp.resolve("model");
        Files.createDirectories(dir);
        try (Stream<Path> files = Files.list(SharedData.model("stories260K-hf"))) {
            for (Path f : files.toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        return dir;
    }

    private static void assertOneLineError(CliRun run, String... fragments) {
        assertTrue(run.exitCode() != 0, "exit code must be non-zero");
        String[] lines = run.err().strip().split("\n");
        String first = lines[0];
        for (String f : fragments) {
            assertTrue(first.contains(f), "error line should contain '" + f + "': " + first);
        }
        assertFalse(run.err().contains("\tat "), "no stack trace without --verbose: " + run.err());
    }

    private CliRun inspect(Path model) {
        return CliRun.of("inspect", model.toString());
    }

    @Test
    void truncatedSafetensorsHeader() throws IOException {
        Path model = copyOfHfModel();
        Path st = model.resolve("model.safetensors");
        Files.write(st, Arrays.copyOf(Files.readAllBytes(st), 100));
        assertOneLineError(inspect(model), "model.safetensors");
    }

    @Test
    void malformedSafetensorsHeader() throws IOException {
        Path model = copyOfHfModel();
        Path st = model.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(st);
        bytes[8] = '#';
        Files.write(st, bytes);
        assertOneLineError(inspect(model), "model.safetensors");
    }

    @Test
    void tensorOffsetsOutsideTheFile() throws IOException {
        Path model = copyOfHfModel();
        Path st = model.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(st);
        Files.write(st, Arrays.copyOf(bytes, bytes.length - 4096));
        assertOneLineError(inspect(model), "model.safetensors");
    }

    @Test
    void shapeDisagreeingWithConfig() throws IOException {
        Path model = copyOfHfModel();
        Path config = model.resolve("config.json");
        Files.writeString(
                config, Files.readString(config).replace("\"intermediate_size\": 172", "\"intermediate_size\": 180"));
        assertOneLineError(inspect(model), "model.safetensors", "180");
    }

    @Test
    void dtypeDisagreeingWithExpectation() throws IOException {
        Path model = copyOfHfModel();
        Path st = model.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(st);
        long headerLength =
                ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
        String changed = header.replaceFirst("\"dtype\":\"F32\"", "\"dtype\":\"I32\"");
        assertTrue(!changed.equals(header), "test setup: header dtype not found");
        System.arraycopy(changed.getBytes(StandardCharsets.UTF_8), 0, bytes, 8, (int) headerLength);
        Files.write(st, bytes);
        assertOneLineError(inspect(model), "model.safetensors", "I32");
    }

    @Test
    void unknownArchitecture() throws IOException {
        Path model = copyOfHfModel();
        Path config = model.resolve("config.json");
        Files.writeString(
                config, Files.readString(config).replace("\"model_type\": \"llama\"", "\"model_type\": \"gpt_neox\""));
        assertOneLineError(inspect(model), "config.json", "gpt_neox");
    }

    @Test
    void missingTokenizer() throws IOException {
        Path model = copyOfHfModel();
        Files.delete(model.resolve("tokenizer.model"));
        CliRun run = CliRun.of(
                "eval",
                "--model",
                model.toString(),
                "--data",
                SharedData.data("ptb/ptb.test.txt").toString());
        assertOneLineError(run, "model", "tokenizer");
    }

    @Test
    void emptyDataset() throws IOException {
        Path empty = Files.writeString(tmp.resolve("empty.txt"), "  \n");
        CliRun run =
                CliRun.of("eval", "--model", SharedData.model("stories260K-hf").toString(), "--data", empty.toString());
        assertOneLineError(run, "empty.txt", "no text");
        assertEquals(2, run.exitCode());
    }

    @Test
    void stackTraceOnlyWithVerbose() throws IOException {
        Path empty = Files.writeString(tmp.resolve("empty.txt"), "");
        CliRun run = CliRun.of(
                "eval",
                "--verbose",
                "--model",
                SharedData.model("stories260K-hf").toString(),
                "--data",
                empty.toString());
        assertTrue(run.err().contains("\tat "), run.err());
    }

    private CliRun prune(String... extra) {
        String[] base = {
            "prune",
            "--quiet",
            "--model",
            SharedData.model("stories260K/stories260K.bin").toString(),
            "--calib",
            SharedData.data("tinystories/tinystories_val_sample.txt").toString(),
            "--out",
            tmp.resolve("out").toString()
        };
        String[] args = Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        return CliRun.of(args);
    }

    private void assertNothingWritten() {
        assertFalse(Files.exists(tmp.resolve("out")), "no output folder");
        assertFalse(Files.exists(tmp.resolve("out.run")), "no run directory");
    }

    @Test
    void sparsityOutsideTheOpenInterval() {
        assertOneLineError(prune("--method", "wanda", "--sparsity", "1.2"), "sparsity");
        assertNothingWritten();
    }

    @Test
    void nmPatternWithAnotherSparsity() {
        assertOneLineError(prune("--method", "wanda", "--pattern", "2:4", "--sparsity", "0.7"), "2:4", "0.5");
        assertNothingWritten();
    }

    /** Structured methods: flags that only make sense elsewhere are refused by name. */
    @ParameterizedTest
    @CsvSource(
            delimiter = '|',
            value = {
                "--method flap --pattern 2:4|--pattern 2:4",
                "--method wanda --recovery on|--recovery",
                "--method wanda --export masked-dense|masked-dense",
                "--method goa --method-option heads=some|heads",
                "--method goa --method-option tau=-1|tau"
            })
    void structuredFlagsThatDoNotApply(String flags, String named) {
        assertOneLineError(prune(flags.split(" ")), named);
        assertNothingWritten();
    }

    @Test
    void dataFreeCalibrationForAnUnstructuredMethod() {
        CliRun run = CliRun.of(
                "prune",
                "--quiet",
                "--model",
                SharedData.model("stories260K/stories260K.bin").toString(),
                "--method",
                "wanda",
                "--calib",
                "self",
                "--out",
                tmp.resolve("out").toString());
        assertOneLineError(run, "--calib self", "wanda");
        assertNothingWritten();
    }

    @Test
    void unknownMethod() {
        assertOneLineError(prune("--method", "obs-magic"), "obs-magic");
        assertNothingWritten();
    }

    @Test
    void unreadableCalibrationFile() {
        CliRun run = CliRun.of(
                "prune",
                "--quiet",
                "--model",
                SharedData.model("stories260K/stories260K.bin").toString(),
                "--method",
                "wanda",
                "--calib",
                tmp.resolve("missing.txt").toString(),
                "--out",
                tmp.resolve("out").toString());
        assertOneLineError(run, "missing.txt");
        assertNothingWritten();
    }

    @Test
    void runDirectoryOfAnotherJob() {
        CliRun first =
                prune("--method", "magnitude", "--sparsity", "0.5", "--calib-samples", "2", "--calib-seqlen", "32");
        assertEquals(0, first.exitCode(), first.err());
        CliRun second = prune(
                "--method",
                "wanda",
                "--sparsity",
                "0.5",
                "--calib-samples",
                "2",
                "--calib-seqlen",
                "32",
                "--run-dir",
                tmp.resolve("out.run").toString());
        assertOneLineError(second, "out.run", "belongs to job");
    }

    @Test
    void unreachableNode() throws IOException {
        Path home = Files.createDirectories(tmp.resolve("home"));
        Files.writeString(home.resolve("node.token"), "0".repeat(64) + "\n");
        CliRun run = CliRun.of("status", "--node", "127.0.0.1:1", "--home", home.toString());
        assertOneLineError(run, "127.0.0.1:1");
    }

    @Test
    void aNodeWithoutItsTokenNamesWhereTheTokenIsRead() {
        CliRun run = CliRun.of(
                "status",
                "--node",
                "127.0.0.1:1",
                "--home",
                tmp.resolve("no-home").toString());
        assertOneLineError(run, "no node token", "ESPALIER_NODE_TOKEN", "node.token");
    }
}

package dev.espalier.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Greedy decoding from BOS for 200 steps equals the string karpathy/llama2.c's test_all.py expects (../shared/models/README.md). */
class GreedyGenerationIT {
    static final String EXPECTED = """
            Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.
            Lily's mom said, "Lily, let's go to the park." Lily was sad and didn't know what to do. She said, "I want to play with your ball, but I can't find it."
            Lily was sad and didn't know what to do. She said, "I'm sorry, Lily. I didn't know what to do."
            Lily didn't want to help her mom, so she""";

    @ParameterizedTest
    @ValueSource(strings = {"stories260K/stories260K.bin", "stories260K-hf", "stories260K-hf-sharded"})
    void greedyTextEqualsReference(String model) {
        CliRun run = CliRun.of(
                "generate",
                "--model",
                SharedData.model(model).toString(),
                "--tokenizer",
                SharedData.model("stories260K/tok512.bin").toString(),
                "--steps",
                "200",
                "--temperature",
                "0");
        assertEquals(0, run.exitCode(), run.err());
        String text = run.out().substring(0, run.out().lastIndexOf("\ngenerated="));
        assertEquals(EXPECTED, text);
    }
}

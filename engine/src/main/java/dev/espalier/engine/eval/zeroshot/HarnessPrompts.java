package dev.espalier.engine.eval.zeroshot;

import java.util.regex.Pattern;

/**
 * The prompts of lm-evaluation-harness's task definitions (lm_eval/tasks/*), written out: {@code doc_to_text} of
 * piqa.yaml, arc_easy.yaml / arc_challenge.yaml, super_glue/boolq/default.yaml and hellaswag/utils.py. A choice is
 * scored as the continuation {@link #TARGET_DELIMITER} + choice (the harness's default {@code target_delimiter}).
 */
public final class HarnessPrompts {
    /** Put between a prompt and each choice. */
    public static final String TARGET_DELIMITER = " ";

    private static final Pattern BRACKETED = Pattern.compile("\\[.*?\\]");

    private HarnessPrompts() {}

    /** piqa.yaml: {@code "Question: {{goal}}\nAnswer:"}. */
    public static String piqa(String goal) {
        return "Question: " + goal + "\nAnswer:";
    }

    /** arc_easy.yaml and arc_challenge.yaml: {@code "Question: {{question}}\nAnswer:"}. */
    public static String arc(String question) {
        return "Question: " + question + "\nAnswer:";
    }

    /** super_glue/boolq/default.yaml: {@code "{{passage}}\nQuestion: {{question}}?\nAnswer:"}, choices no / yes. */
    public static String boolq(String passage, String question) {
        return passage + "\nQuestion: " + question + "?\nAnswer:";
    }

    /** hellaswag/utils.py {@code process_docs}: {@code preprocess(activity_label + ": " + ctx_a + " " + ctx_b.capitalize())}. */
    public static String hellaswagContext(String activityLabel, String ctxA, String ctxB) {
        return hellaswagPreprocess(activityLabel + ": " + ctxA + " " + PythonStrings.capitalize(ctxB));
    }

    /**
     * hellaswag/utils.py {@code preprocess}: strip, {@code " [title]"} → {@code ". "}, bracketed WikiHow artefacts
     * removed (non-greedy {@code \[.*?\]}), then one pass of {@code "  "} → {@code " "} (as Python's str.replace: a run
     * of three spaces leaves two).
     */
    public static String hellaswagPreprocess(String text) {
        String out = PythonStrings.strip(text).replace(" [title]", ". ");
        out = BRACKETED.matcher(out).replaceAll("");
        return out.replace("  ", " ");
    }

    /** The harness's WinoGrande target: the part of the sentence after the blank, stripped. */
    public static String winograndeTarget(String ending) {
        return PythonStrings.strip(ending);
    }
}

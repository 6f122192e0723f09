package dev.espalier.engine.eval.zeroshot;

import java.util.ArrayList;
import java.util.List;

/**
 * Maps the fields of each task file back to the harness's prompts. The built-in files are llm-foundry's
 * ({@code query}, {@code choices}, {@code gold}; WinoGrande {@code context_options}, {@code continuation}, {@code gold}),
 * whose queries are llm-foundry's own prompts: PIQA {@code "Question: <goal>\n"}, ARC {@code "Question: <question>"},
 * BoolQ {@code "Passage: <passage>\nQuestion: <question>?"}, OpenBookQA the bare stem. Each is taken apart and rebuilt as
 * {@link HarnessPrompts}; a query not of the expected shape is an error naming its line. HellaSwag is in its original
 * format ({@code activity_label}, {@code ctx_a}, {@code ctx_b}, {@code endings}, {@code label}) and gets the harness's
 * preprocessing. Deviations (items llm-foundry changed) are listed in the README's zero-shot section.
 */
final class TaskFormats {
    private TaskFormats() {}

    /** llm-foundry PIQA: query {@code "Question: <goal>\n"}; its choices lost trailing spaces in 118 items (see README). */
    static TaskItem piqaFoundry(JsonLine j) {
        String goal = between(j, "query", "Question: ", "\n");
        List<String> choices = j.texts("choices", 2);
        return choice(j.line(), HarnessPrompts.piqa(goal), choices, j.index("gold", choices.size()));
    }

    /** The official PIQA release ({@code goal}, {@code sol1}, {@code sol2}) with its label from the labels file. */
    static TaskItem piqaOfficial(JsonLine j, int label) {
        List<String> choices = List.of(j.text("sol1"), j.text("sol2"));
        return choice(j.line(), HarnessPrompts.piqa(j.text("goal")), choices, label);
    }

    /** llm-foundry ARC: query {@code "Question: <question>"}. */
    static TaskItem arcFoundry(JsonLine j) {
        String question = between(j, "query", "Question: ", "");
        List<String> choices = j.texts("choices", 2);
        return choice(j.line(), HarnessPrompts.arc(question), choices, j.index("gold", choices.size()));
    }

    /** llm-foundry BoolQ: query {@code "Passage: <passage>\nQuestion: <question>?"}, choices no / yes. */
    static TaskItem boolqFoundry(JsonLine j) {
        String body = between(j, "query", "Passage: ", "?");
        int split = body.lastIndexOf("\nQuestion: ");
        if (split < 0) {
            throw j.error(
                    "field \"query\" has no \"\\nQuestion: \" (expected \"Passage: <passage>\\nQuestion: <question>?\")");
        }
        List<String> choices = j.texts("choices", 2);
        return choice(
                j.line(),
                HarnessPrompts.boolq(body.substring(0, split), body.substring(split + "\nQuestion: ".length())),
                choices,
                j.index("gold", choices.size()));
    }

    /** HellaSwag's original format, preprocessed as the harness's hellaswag/utils.py. */
    static TaskItem hellaswag(JsonLine j) {
        String context = HarnessPrompts.hellaswagContext(j.text("activity_label"), j.text("ctx_a"), j.text("ctx_b"));
        List<String> endings = new ArrayList<>();
        for (String ending : j.texts("endings", 2)) {
            endings.add(HarnessPrompts.hellaswagPreprocess(ending));
        }
        return choice(j.line(), context, endings, j.index("label", endings.size()));
    }

    /**
     * llm-foundry WinoGrande (partial scoring): the sentence up to the blank with each option filled in are the contexts,
     * the rest of the sentence is the one continuation scored after each (the harness's {@code multiple_input}).
     */
    static TaskItem winograndeFoundry(JsonLine j) {
        List<String> contexts = j.texts("context_options", 2);
        String target = HarnessPrompts.TARGET_DELIMITER + HarnessPrompts.winograndeTarget(j.text("continuation"));
        List<Request> requests = new ArrayList<>();
        for (String context : contexts) {
            requests.add(new Request(context, target));
        }
        return new TaskItem.Choice(j.line(), requests, j.index("gold", contexts.size()), null);
    }

    /** A user's multiple-choice file: {@code {"query", "choices", "gold"}}, prompt = query (as OpenBookQA). */
    static TaskItem multipleChoice(JsonLine j) {
        List<String> choices = j.texts("choices", 2);
        return choice(j.line(), j.text("query"), choices, j.index("gold", choices.size()));
    }

    /** A user's LAMBADA-style file: {@code {"context", "continuation"}}, scored as written (no delimiter added). */
    static TaskItem continuation(JsonLine j) {
        String continuation = j.text("continuation");
        if (continuation.isEmpty()) {
            throw j.error("field \"continuation\" is empty (expected the text to score)");
        }
        return new TaskItem.Continuation(j.line(), new Request(j.text("context"), continuation));
    }

    private static TaskItem.Choice choice(int line, String prompt, List<String> choices, int gold) {
        List<Request> requests = new ArrayList<>();
        for (String c : choices) {
            requests.add(new Request(prompt, HarnessPrompts.TARGET_DELIMITER + c));
        }
        return new TaskItem.Choice(line, requests, gold, choices);
    }

    /** The string field {@code field} without {@code prefix} and {@code suffix}, which it must have. */
    private static String between(JsonLine j, String field, String prefix, String suffix) {
        String value = j.text(field);
        if (!value.startsWith(prefix)
                || !value.endsWith(suffix)
                || value.length() < prefix.length() + suffix.length()) {
            throw j.error("field \"" + field + "\" should start with \"" + escape(prefix) + "\""
                    + (suffix.isEmpty() ? "" : " and end with \"" + escape(suffix) + "\"")
                    + " (llm-foundry's prompt), got \"" + escape(abbreviate(value)) + "\"");
        }
        return value.substring(prefix.length(), value.length() - suffix.length());
    }

    private static String escape(String s) {
        return s.replace("\n", "\\n");
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }
}

package dev.espalier.engine.eval.zeroshot;

import java.util.List;

/** One item of a zero-shot task, with the line of its file it came from (1-based, for messages). */
public sealed interface TaskItem permits TaskItem.Choice, TaskItem.Continuation {

    int line();

    /** The requests to score, in order. */
    List<Request> requests();

    /**
     * A multiple-choice item: one request per choice; the prediction is the choice of highest log-likelihood.
     *
     * @param choiceTexts the choices as the harness's {@code doc_to_choice} gives them; acc_norm divides each
     *                    log-likelihood by its length in characters (code points). Null where the harness reports no
     *                    acc_norm (WinoGrande's partial scoring, whose choices are contexts).
     */
    record Choice(int line, List<Request> requests, int gold, List<String> choiceTexts) implements TaskItem {
        public Choice {
            requests = List.copyOf(requests);
            choiceTexts = choiceTexts == null ? null : List.copyOf(choiceTexts);
            if (gold < 0 || gold >= requests.size()) {
                throw new IllegalArgumentException(
                        "gold " + gold + " is not the index of one of " + requests.size() + " choices");
            }
        }
    }

    /** A LAMBADA-style item: correct when every continuation token is the model's greedy choice. */
    record Continuation(int line, Request request) implements TaskItem {
        @Override
        public List<Request> requests() {
            return List.of(request);
        }
    }
}

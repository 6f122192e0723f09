package dev.espalier.engine.eval.zeroshot;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.espalier.engine.SharedFiles;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Prompts as lm-evaluation-harness builds them, against strings written out by hand from its task definitions. */
class HarnessPromptsTest {
    private static final Path DIR = SharedFiles.path("data/zeroshot");

    private static TaskItem.Choice first(ZeroShotTask task) {
        return (TaskItem.Choice) TaskLoader.load(task, DIR).items().getFirst();
    }

    @Test
    void piqaAsksForAnAnswerAndKeepsTheOfficialChoices() {
        TaskItem.Choice item = first(ZeroShotTask.PIQA);
        assertEquals(
                new Request(
                        "Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:",
                        " Provide the guinea pig with a cage full of a few inches of bedding made of ripped paper strips, you will also "
                                + "need to supply it with a water bottle and a food dish."),
                item.requests().getFirst());
        assertEquals(0, item.gold());
    }

    @Test
    void arcRebuildsQuestionAnswer() {
        TaskItem.Choice item = first(ZeroShotTask.ARC_EASY);
        assertEquals(
                "Question: Which statement best explains why photosynthesis is the foundation of most food webs?\nAnswer:",
                item.requests().getFirst().context());
        assertEquals(
                " Sunlight is the source of energy for nearly all ecosystems.",
                item.requests().getFirst().continuation());
        assertEquals(
                "Question: An astronomer observes that a planet rotates faster after a meteorite impact. Which is the most likely "
                        + "effect of this increase in rotation?\nAnswer:",
                first(ZeroShotTask.ARC_CHALLENGE).requests().getFirst().context());
    }

    @Test
    void boolqDropsThePassageLabelAndAsksNoOrYes() {
        TaskItem.Choice item = first(ZeroShotTask.BOOLQ);
        String context = item.requests().getFirst().context();
        assertEquals("All biomass goes through at least some of these steps", context.substring(0, 53));
        assertEquals(
                "producing gasoline.\nQuestion: does ethanol take more energy make that produces?\nAnswer:",
                context.substring(context.length() - 87));
        assertEquals(
                List.of(" no", " yes"),
                item.requests().stream().map(Request::continuation).toList());
    }

    @Test
    void openbookqaIsTheBareStem() {
        TaskItem.Choice item = first(ZeroShotTask.OPENBOOKQA);
        assertEquals(
                "A person wants to start saving money so that they can afford a nice vacation at the end of the year. After "
                        + "looking over their budget and expenses, they decide the best way to save money is to",
                item.requests().getFirst().context());
        assertEquals(" quit eating lunch out", item.requests().get(1).continuation());
        assertEquals(1, item.gold());
    }

    @Test
    void hellaswagJoinsLabelAndCapitalisedContext() {
        TaskItem.Choice item = first(ZeroShotTask.HELLASWAG);
        assertEquals(
                "Pole vault: Pole vault is a sport where you run with a pole and stop and swing your body. A few women",
                item.requests().getFirst().context());
        assertEquals(
                " are in the gym practicing to do this pole vault, trying to do their best.",
                item.requests().get(3).continuation());
        assertEquals(3, item.gold());
    }

    @Test
    void hellaswagPreprocessRemovesWikiHowArtefacts() {
        assertEquals(
                "Clean a tile floor. Sweep the floor. Use a broom to sweep.",
                HarnessPrompts.hellaswagPreprocess(
                        " Clean a tile floor [title] Sweep the floor. [step] Use a broom  to sweep. "));
        assertEquals(
                "a  b",
                HarnessPrompts.hellaswagPreprocess("a    b")); // one pass of "  " -> " ", as Python's str.replace
        assertEquals(
                "Cooking: Heat the pan. Add the oil",
                HarnessPrompts.hellaswagContext("Cooking", "Heat the pan.", "aDD THE oil"));
    }

    @Test
    void winograndeScoresTheSharedEndingAfterEachFilledInBeginning() {
        TaskItem.Choice item = first(ZeroShotTask.WINOGRANDE);
        assertEquals(
                List.of(
                        new Request(
                                "Sarah was a much better surgeon than Maria so Sarah", " always got the easier cases."),
                        new Request(
                                "Sarah was a much better surgeon than Maria so Maria",
                                " always got the easier cases.")),
                item.requests());
        assertEquals(1, item.gold());
        assertEquals(null, item.choiceTexts());
    }

    @Test
    void pythonStringSemantics() {
        assertEquals("Hello world", PythonStrings.capitalize("hELLO WORLD"));
        assertEquals("x", PythonStrings.strip("\u00a0 x\n\t"));
        assertEquals(2, PythonStrings.trailingSpaces("a: \n"));
        assertEquals(3, PythonStrings.length("a\uD83D\uDE00b")); // code points, as Python's len
    }
}

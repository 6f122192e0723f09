package dev.espalier.engine.report;

import java.util.ArrayList;
import java.util.List;

/**
 * A GitHub-flavoured Markdown table: a header row, then rows of cells; the first column left-aligned, the others
 * right-aligned when they hold numbers ({@link #MarkdownTable(List)}) or left-aligned ({@link #text(List)}). Pipes
 * inside a cell are escaped.
 */
final class MarkdownTable {
    private final List<String> header;
    private final boolean numeric;
    private final List<List<String>> rows = new ArrayList<>();

    /** A table whose columns after the first hold numbers. */
    MarkdownTable(List<String> header) {
        this(header, true);
    }

    /** A table of text: every column left-aligned. */
    static MarkdownTable text(List<String> header) {
        return new MarkdownTable(header, false);
    }

    private MarkdownTable(List<String> header, boolean numeric) {
        this.numeric = numeric;
        if (header.isEmpty()) {
            throw new IllegalArgumentException("a table needs at least one column");
        }
        this.header = List.copyOf(header);
    }

    MarkdownTable row(List<String> cells) {
        if (cells.size() != header.size()) {
            throw new IllegalArgumentException(
                    "row of " + cells.size() + " cells for " + header.size() + " columns: " + cells);
        }
        rows.add(List.copyOf(cells));
        return this;
    }

    String render() {
        StringBuilder md = new StringBuilder();
        line(md, header);
        md.append("|");
        for (int i = 0; i < header.size(); i++) {
            md.append(i == 0 || !numeric ? "---|" : "---:|");
        }
        md.append('\n');
        rows.forEach(r -> line(md, r));
        return md.toString();
    }

    private static void line(StringBuilder md, List<String> cells) {
        md.append('|');
        for (String c : cells) {
            md.append(' ').append(c.replace("|", "\\|")).append(" |");
        }
        md.append('\n');
    }
}

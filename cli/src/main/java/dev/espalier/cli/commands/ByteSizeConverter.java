package dev.espalier.cli.commands;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.ITypeConverter;

/** Reads "5GB" (decimal, as Hugging Face), "2GiB" (binary) or a plain count of bytes, at least 1 byte. */
final class ByteSizeConverter implements ITypeConverter<Long> {
    private static final Pattern SIZE =
            Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([KMGT]i?B|B)?", Pattern.CASE_INSENSITIVE);

    @Override
    public Long convert(String value) {
        Matcher m = SIZE.matcher(value.trim());
        if (!m.matches()) {
            throw new CommandLine.TypeConversionException(
                    "expected a size such as 5GB, 500MB or 2GiB, got '" + value + "'");
        }
        String unit = m.group(2) == null ? "B" : m.group(2).toUpperCase(Locale.ROOT);
        int power = "BKMGT".indexOf(unit.charAt(0));
        double base = unit.contains("I") ? 1024 : 1000;
        long bytes = (long) (Double.parseDouble(m.group(1)) * Math.pow(base, power));
        if (bytes < 1) {
            throw new CommandLine.TypeConversionException("expected a size of at least 1 byte, got '" + value + "'");
        }
        return bytes;
    }
}

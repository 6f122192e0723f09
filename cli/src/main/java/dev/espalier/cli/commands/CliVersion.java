package dev.espalier.cli.commands;

import picocli.CommandLine.IVersionProvider;

/** What {@code --version} prints, on {@code espalier} and on every verb. */
public final class CliVersion implements IVersionProvider {
    public static final String VERSION = "espalier 0.1.0";

    @Override
    public String[] getVersion() {
        return new String[] {VERSION};
    }
}

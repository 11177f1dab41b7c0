"""The ``fm`` command line: LightningCLI subcommands plus data/workflow subcommands."""

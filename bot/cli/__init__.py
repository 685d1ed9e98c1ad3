"""CLI: the `gtm` command and its subcommands (thin shells over functions that take `now`)."""

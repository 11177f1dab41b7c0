"""Workflows: typed functions behind ``fm`` subcommands (benchmarks, data generation, ...)."""

"""Running the model and keeping its results: the results store (Parquet + DuckDB views), ensembles, charts,
the HTML report and the command-line interface. Nothing imports `runs` but the command-line entry point."""

# Recipes for the Guangxi transport model. `pip install -e ".[dev]"` puts `just` on PATH (rust-just).

# Run every shipped scenario on the shipped Guangxi data: results in out/results.duckdb, charts and report in out/
run *ARGS:
    transport run {{ARGS}}

# The whole test suite (what CI runs)
test *ARGS:
    python -m pytest {{ARGS}}

# Speed benchmarks with ratios against baselines measured in the same run
bench:
    for f in benchmarks/bench_*.py; do echo "== $f"; python "$f" || exit 1; done

# Lint and type-check
lint:
    ruff check .
    ruff format --check .
    mypy

# Charts and HTML report for the latest run of each scenario
report:
    transport report

# Regenerate the scenario JSON schema and lever documentation from the pydantic models
schema:
    python -m transport.schema_docs

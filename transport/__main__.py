"""Entry point of the `transport` command and `python -m transport`."""

from runs.cli import main

if __name__ == "__main__":
    main()

"""`python -m sova ...` is the `sova` command."""

from runtime.cli import main

if __name__ == "__main__":
    main()

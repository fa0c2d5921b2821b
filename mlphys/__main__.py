"""`python -m mlphys` is the `mlphys` command."""

from mlphys.cli.main import main

if __name__ == "__main__":
    main()

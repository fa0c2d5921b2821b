"""The `mlphys` command line: Click commands that parse, call the engine and print."""

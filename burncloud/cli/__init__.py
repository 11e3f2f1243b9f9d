"""The `burncloud` command: one typer app per command group."""

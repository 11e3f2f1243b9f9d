from __future__ import annotations

from burncloud import __version__


def test_version_flag_prints_version(cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"burncloud {__version__}"


def test_unknown_option_is_one_line_and_exit_1(cli) -> None:
    result = cli("price", "--bogus")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ")

"""Entry point placeholder; replaced by the CLI."""


def main() -> None:
    raise SystemExit("not built yet")

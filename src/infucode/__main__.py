"""``python -m infucode``: the command line."""

from infucode.cli import app

if __name__ == "__main__":
    app(prog_name="infucode")

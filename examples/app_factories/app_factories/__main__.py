"""``python -m app_factories [--production]``: serve the debug (or production) app on http://localhost:8080."""

from __future__ import annotations

import argparse

import uvicorn

from app_factories import create_debug_app, create_production_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app_factories", description=__doc__)
    parser.add_argument("--production", action="store_true", help="read settings from the environment")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    app = create_production_app() if args.production else create_debug_app()
    uvicorn.run(app, host="localhost", port=args.port)


if __name__ == "__main__":
    main()

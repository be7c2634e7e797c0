"""``python -m outreach.portal [--host H] [--port P]``: the portal (outreach/portal/app.py) on
127.0.0.1:8600, this machine only, unless told otherwise (put a TLS proxy in front of it before
opening it to the office network)."""

from __future__ import annotations

import argparse


def main() -> None:
    import uvicorn

    from outreach.portal.app import create_app
    from outreach.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m outreach.portal")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8600)
    args = parser.parse_args()
    uvicorn.run(create_app(load_settings()), host=args.host, port=args.port, proxy_headers=True)


if __name__ == "__main__":
    main()

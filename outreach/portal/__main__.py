"""``python -m outreach.portal [--host H] [--port P]``: the portal (outreach/portal/app.py) on
127.0.0.1:8600 (``OUTREACH_PORTAL_PORT``), this machine only, unless told otherwise (put a TLS
proxy in front of it before opening it to the office network).

On an accounts file with no department (admin) account, it first adds one, ``admin``, and prints
its first password once (to be changed at the first sign-in); ``outreach accounts reset admin``
gives a new one."""

from __future__ import annotations

import argparse


def main() -> None:
    import uvicorn

    from outreach.portal.app import create_app
    from outreach.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m outreach.portal")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    settings = load_settings()
    first_admin(settings)
    port = args.port or settings.portal_port
    print(f"portal: http://{args.host}:{port}/ (accounts: outreach accounts list)", flush=True)
    uvicorn.run(create_app(settings), host=args.host, port=port, proxy_headers=True)


def first_admin(settings) -> str | None:
    """Add the department's first account, ``admin``, when there is none; print and return its
    first password."""
    from outreach.portal.accounts import open_accounts

    accounts = open_accounts(settings)
    try:
        if any(a.is_admin for a in accounts.list()):
            return None
        password = accounts.add("admin", "admin")
    finally:
        accounts.close()
    print(
        "portal: no department account yet; added 'admin' with the first password "
        f"{password} (shown once; change it at the first sign-in)",
        flush=True,
    )
    return password


if __name__ == "__main__":
    main()

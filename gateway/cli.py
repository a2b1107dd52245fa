"""`fixgate` command line: serve, client, bench, profile, venue-sim, prices, risk,
hash-password."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import getpass
import sys

from gateway.config import ConfigError, load_config


def _serve(args: argparse.Namespace) -> int:
    from gateway import logs
    from gateway.server import serve

    try:
        config = load_config(args.config, args.data_dir)
    except ConfigError as exc:
        print(f"fixgate: {exc}", file=sys.stderr)
        return 2
    if args.fix_port is not None:
        config = dataclasses.replace(
            config, fix=dataclasses.replace(config.fix, port=args.fix_port)
        )
    if args.api_port is not None:
        config = dataclasses.replace(
            config, api=dataclasses.replace(config.api, port=args.api_port)
        )
    logs.configure(args.log_format or config.log_format)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config, gates=not args.no_gates))
    return 0


def _hash_password(args: argparse.Namespace) -> int:
    from gateway.passwords import hash_password

    password = args.password if args.password is not None else getpass.getpass("password: ")
    print(hash_password(password))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from gateway.bench import add_bench_parser
    from gateway.fix_client import add_client_parser
    from gateway.profiles import add_profile_parser
    from gateway.risk_cli import add_risk_parsers
    from gateway.venues.fix_sim_acceptor import add_venue_sim_parser

    parser = argparse.ArgumentParser(prog="fixgate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway (FIX acceptor, OMS, REST API)")
    serve.add_argument("--config", help="TOML config file (default: the built-in demo config)")
    serve.add_argument("--data-dir", help="override server.data_dir")
    serve.add_argument("--fix-port", type=int, help="override fix.port")
    serve.add_argument("--api-port", type=int, help="override api.port")
    serve.add_argument("--log-format", choices=["console", "json"], help="override log_format")
    serve.add_argument("--no-gates", action="store_true",
                       help="benchmarks only: run with no pre-trade gates at all")
    serve.set_defaults(func=_serve)

    hp = sub.add_parser("hash-password", help="print a pbkdf2_sha256 hash for the config")
    hp.add_argument("password", nargs="?", help="the password (prompted for when omitted)")
    hp.set_defaults(func=_hash_password)

    add_client_parser(sub)
    add_bench_parser(sub)
    add_profile_parser(sub)
    add_venue_sim_parser(sub)
    add_risk_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

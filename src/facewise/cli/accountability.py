"""`facewise audit|policy|optout`: the audit trail, threshold floors and collection policies,
and the opt-out list, from a shell on the machine that holds the data (which acts as admin)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from facewise.service.context import ServiceContext
    from facewise.store.records import AuditQuery, CollectionPolicy

EXIT_BROKEN = 1


def _context(args: argparse.Namespace, analyzer: bool = False) -> ServiceContext:
    from facewise.cli.analyzer_options import analyzer_from_args
    from facewise.service.context import ServiceContext

    # Models load on first use: commands that analyse no photo never load one.
    chosen = analyzer_from_args(args) if analyzer else None
    return ServiceContext.open(args.data_dir, store_url=args.store_url, analyzer=chosen)


def _query(args: argparse.Namespace) -> AuditQuery:
    from facewise.service.audit import operation_name, parse_time_ms
    from facewise.store.records import AuditQuery

    return AuditQuery(
        account=args.account,
        since_ms=parse_time_ms(args.since, "--since") if args.since else None,
        until_ms=parse_time_ms(args.until, "--until") if args.until else None,
        operation=operation_name(args.operation) if args.operation else None,
        collection=args.collection,
        access_key_id=args.key,
    )


def _audit(args: argparse.Namespace) -> int:
    from facewise.service.audit import AuditTrail, as_dict

    with _context(args) as context:
        if context.audit_log is None:
            print("facewise audit: this store keeps no audit trail", file=sys.stderr)
            return EXIT_BROKEN
        trail = AuditTrail(context.audit_log)
        if args.action == "verify":
            report = trail.verify(args.account)
            for chain in report.chains:
                state = "intact" if chain.broken is None else f"BROKEN: {chain.broken}"
                print(
                    f"{chain.account}: {chain.records:,} records checked, head {chain.head_seq} "
                    f"{chain.head_hash or '-'}: {state}"
                )
            if not report.chains:
                print("no audit records yet")
            return 0 if report.intact else EXIT_BROKEN
        query = _query(args)
        if args.action == "export":
            for piece in trail.export(query, args.format):
                sys.stdout.write(piece)
            return 0
        for record in trail.iterate(query):
            row = as_dict(record)
            if args.json:
                print(json.dumps(row))
                continue
            asked = "-" if row["requested_threshold"] is None else row["requested_threshold"]
            applied = row["applied_threshold"]
            threshold = "" if applied is None else f" at {applied:g} (asked {asked})"
            print(
                f"{row['time']} {row['account']}#{row['seq']} {row['operation']} "
                f"{row['collection'] or '-'}{threshold} key={row['access_key_id'] or '-'} "
                f"from={row['source_address'] or '-'} searched={row['faces_searched']} "
                f"matched={row['faces_matched']} ids={','.join(row['ids']) or '-'}"
            )
    return 0


def _policy_json(policy: CollectionPolicy) -> dict[str, Any]:
    age = policy.max_face_age_ms
    return {
        "min_threshold": policy.min_threshold,
        "max_results": policy.max_results,
        "search_keys": policy.search_keys,
        "max_face_age_days": None if age is None else age / 86_400_000,
    }


def _policy(args: argparse.Namespace) -> int:
    from facewise.service.caller import Caller
    from facewise.service.collection_policies import CollectionPolicies

    with _context(args) as context:
        policies = CollectionPolicies(context, Caller(args.account))
        if args.action == "floor":
            value = args.collection if args.value is None else args.value
            if value is not None:
                policies.set_account_floor(_number(str(value), "floor"))
            print(json.dumps({"account": args.account, "floor": policies.account_floor()}))
            return 0
        if not args.collection:
            print(f"facewise policy {args.action}: name the collection", file=sys.stderr)
            return 2
        if args.action == "set":
            changes: dict[str, Any] = {}
            for name in ("min_threshold", "max_results", "max_face_age_days"):
                value = getattr(args, name)
                if value is not None:
                    changes[name] = None if value == "none" else _number(value, name)
            if args.search_keys is not None:
                changes["search_keys"] = args.search_keys == "allow"
            policies.set_policy(args.collection, **changes)
        shown = _policy_json(policies.policy(args.collection))
        shown["applied_floor"] = context.policies.floor(
            args.account, context.store.collection(args.account, args.collection)
        )
        print(json.dumps({"collection": args.collection, **shown}, indent=2))
    return 0


def _number(value: str, name: str) -> int | float:
    from facewise.errors import InvalidParameterError

    try:
        number = float(value)
    except ValueError:
        raise InvalidParameterError(
            f"--{name.replace('_', '-')}: {value!r} is not a number"
        ) from None
    return int(number) if name == "max_results" and number.is_integer() else number


def _optout(args: argparse.Namespace) -> int:
    from facewise.service.caller import Caller
    from facewise.service.optout import OptOuts

    with _context(args, analyzer=args.action == "add") as context:
        optouts = OptOuts(context, Caller(args.account))
        if args.action == "add":
            if args.photo is None or args.reason is None:
                print("facewise optout add: give PHOTO and --reason", file=sys.stderr)
                return 2
            entry, erased = optouts.add(Path(args.photo), args.reason)
            print(json.dumps({"optout_id": entry.optout_id, "erased": erased}, indent=2))
            print(
                "the photo was not kept; its face will not be indexed or matched again",
                file=sys.stderr,
            )
        elif args.action == "remove":
            if args.photo is None:
                print("facewise optout remove: give the opt-out id", file=sys.stderr)
                return 2
            optouts.remove(args.photo)
            print(f"removed {args.photo}")
        else:
            for entry in optouts.list():
                when = datetime.fromtimestamp(entry.created_at_ms / 1000, UTC)
                print(f"{entry.optout_id}  {when.date().isoformat()}  {entry.reason}")
    return 0


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    add_store_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    audit = commands.add_parser(
        "audit", help="list, export or verify the audit trail of identifications and erasures"
    )
    audit.add_argument("action", choices=["list", "export", "verify"])
    audit.add_argument("--account", default=None, help="one account (default: all)")
    audit.add_argument("--since", help="from this ISO 8601 date or time (UTC unless it says)")
    audit.add_argument("--until", help="before this ISO 8601 date or time")
    audit.add_argument(
        "--operation", help="one operation, e.g. SearchFacesByImage or search_faces_by_image"
    )
    audit.add_argument("--collection", help="one collection")
    audit.add_argument("--key", help="one access key id")
    audit.add_argument("--json", action="store_true", help="list as JSON lines")
    audit.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="export format")
    add_store_options(audit)
    audit.set_defaults(run=_audit)

    policy = commands.add_parser(
        "policy", help="show or set a collection's policy, or the account's threshold floor"
    )
    policy.add_argument("action", choices=["show", "set", "floor"])
    policy.add_argument(
        "collection",
        nargs="?",
        help="show, set: the collection; floor: the new floor, 0-100 (omit it to see the floor)",
    )
    policy.add_argument("value", nargs="?", help=argparse.SUPPRESS)
    policy.add_argument("--account", default="default", help="the account (default 'default')")
    policy.add_argument(
        "--min-threshold",
        metavar="N|none",
        help="lowest match threshold searches of the collection may use (none: the account's "
        "floor)",
    )
    policy.add_argument(
        "--max-results", metavar="N|none", help="most faces or users one search returns"
    )
    policy.add_argument(
        "--search-keys",
        choices=["allow", "deny"],
        help="whether keys of the search role may search the collection",
    )
    policy.add_argument(
        "--max-face-age-days",
        metavar="DAYS|none",
        help="delete faces older than this (the server's retention sweeper)",
    )
    add_store_options(policy)
    policy.set_defaults(run=_policy)

    optout = commands.add_parser(
        "optout", help="add, list or remove people who must never be indexed or identified"
    )
    optout.add_argument("action", choices=["add", "list", "remove"])
    optout.add_argument("photo", nargs="?", help="add: a photo of the person; remove: the id")
    optout.add_argument("--reason", help="add: why the person opted out (kept with the entry)")
    optout.add_argument("--account", default="default", help="the account (default 'default')")
    from facewise.cli.analyzer_options import add_analyzer_options

    add_analyzer_options(optout, landmarks_68=False)
    add_store_options(optout)
    optout.set_defaults(run=_optout)

"""``flask --app wsgi kxflow ...``: load reference data, seed the demo, create users."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from kxflow.core.errors import AppError
from kxflow.core.uow import transaction


def register(app: Flask) -> None:
    group = AppGroup("kxflow", help="kxflow administration")

    @group.command("load-regions")
    def load_regions_cmd():
        """Load the official county-level divisions and the packaged indicator sets."""
        from kxflow.indicators.models import load_packaged_sets
        from kxflow.regions.loader import load_regions

        with transaction():
            result = load_regions()
            sets = load_packaged_sets()
        click.echo(
            f"provinces: {result.provinces}, counties: {result.counties} (as of {result.as_of}), "
            f"retired: {result.retired}; indicator sets added: {', '.join(sets) or 'none'}"
        )

    @group.command("seed-demo")
    def seed_demo_cmd():
        """Create the demo call and one user per role (idempotent); prints the logins. Never in production."""
        from flask import current_app

        from kxflow.demo import DEMO_PASSWORD, seed_demo

        if current_app.config["KXFLOW_ENV"] == "production":
            click.echo(
                "seed-demo refuses to run in production: its users and their password are published in the README.",
                err=True,
            )
            raise SystemExit(2)

        with transaction():
            users = seed_demo()
        click.echo(f"Demo users (password for all: {DEMO_PASSWORD})")
        for username, role, name in users:
            click.echo(f"  {username:<12} {role:<18} {name}")

    @group.command("seed-history")
    @click.option("--calls", default=10, show_default=True, help="Yearly calls, the latest last year.")
    @click.option("--counties", type=int, default=None, help="Counties invited per call (default: all of them).")
    @click.option("--seed", default=20261129, show_default=True, help="The same seed gives the same history.")
    def seed_history_cmd(calls, counties, seed):
        """Load a deterministic history through the operations (calls, assessments, designations). Never in
        production. One transaction per call; generated accounts get a quick password hash (Argon2id at their first
        login)."""
        from flask import current_app

        from kxflow.history import load

        if current_app.config["KXFLOW_ENV"] == "production":
            click.echo("seed-history refuses to run in production.", err=True)
            raise SystemExit(2)
        load(calls, counties, seed, echo=click.echo)

    @group.command("create-user")
    @click.option("--username", required=True)
    @click.option("--role", required=True)
    @click.option("--county", "county_code")
    @click.option("--province", "province_code")
    @click.option("--email")
    def create_user_cmd(username, role, county_code, province_code, email):
        """Create a user; the password is read from standard input."""
        from kxflow.accounts.operations import create_user

        password = sys.stdin.readline().rstrip("\n")
        try:
            with transaction():
                user = create_user(
                    username=username,
                    password=password,
                    role=role,
                    county_code=county_code,
                    province_code=province_code,
                    email=email,
                )
        except AppError as exc:
            for field, messages in (exc.extra.get("fields") or {}).items():
                click.echo(f"{field}: {'; '.join(messages)}", err=True)
            raise SystemExit(2) from exc
        click.echo(f"created user {user.username} ({user.role})")

    @group.command("verify-audit")
    def verify_audit_cmd():
        """Check the hash chain of every application's audit trail; name the first broken link of each."""
        from sqlalchemy import func, select

        from kxflow.core.db import db
        from kxflow.workflow.audit import verify
        from kxflow.workflow.models import AuditRecord

        breaks = list(verify())
        total = db.session.scalar(select(func.count(AuditRecord.id)))
        trails = db.session.scalar(select(func.count(func.distinct(AuditRecord.application_id))))
        for b in breaks:
            why = (
                "does not match its own hash (edited)"
                if b.problem == "content"
                else ("does not follow the record before it (a record removed, inserted or reordered)")
            )
            click.echo(f"application {b.application_id}: audit record {b.record_id} {why}", err=True)
        if breaks:
            click.echo(f"BROKEN: {len(breaks)} of {trails} trails ({total} records)", err=True)
            raise SystemExit(1)
        click.echo(f"audit trail intact: {total} records in {trails} trails")

    @group.command("mail")
    @click.option("--last", default=10, show_default=True, help="How many of the newest messages to show.")
    def mail_cmd(last):
        """Show the e-mail written to the local sink (instance/mail) when no MAIL_SERVER is set."""
        import email
        from email import policy
        from pathlib import Path

        from flask import current_app

        files = sorted(Path(current_app.config["MAIL_SINK_FOLDER"]).glob("*.eml"), key=lambda p: p.stat().st_mtime)
        if not files:
            click.echo("no e-mail in the sink yet")
        for path in files[-last:]:
            message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            click.echo(f"--- {path.name}\nTo: {message['To']}\nSubject: {message['Subject']}\n")
            click.echo(message.get_content())

    app.cli.add_command(group)

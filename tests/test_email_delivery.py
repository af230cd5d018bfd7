"""E-mail through the outbox, with a real Celery worker (and beat), a real SMTP server and real Redis."""

from __future__ import annotations

import email as email_lib
import threading
import time
from datetime import timedelta
from email import policy as email_policy
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from kxflow.accounts.models import User
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.notifications import dispatch
from kxflow.notifications import email as mail
from kxflow.notifications.dispatch import claim, dispatch_due
from kxflow.notifications.models import EmailDelivery, Notification
from tests.factories import bulk_ready_applications, pending_emails
from tests.web_support import Browser
from tests.workers_support import REDIS_TEST_URL, start_redis, stop_redis, wait_for


def email_status(app, **where):
    with app.app_context():
        return dict(db.session.execute(select(Notification.id, Notification.email_status).filter_by(**where)).all())


def all_sent(app, expected: int):
    statuses = email_status(app, email=True)
    return len(statuses) == expected and set(statuses.values()) == {"sent"}


def test_a_submission_emails_the_leader_once_with_a_link_in_their_language(world, app, smtp_sink, start_worker):
    with app.app_context():  # one leader reads English, the other is left to the default
        db.session.execute(update(User).where(User.username == "zj_leader").values(locale="en"))
        db.session.commit()
    from kxflow.accounts.operations import create_user

    with app.app_context():
        create_user(
            username="zj_leader_zh",
            password="long-enough-1",
            role="county_leader",
            county_code="330523",
            email="leader2@example.gov.cn",
        )
        db.session.commit()
    worker = start_worker()
    app_id = world.new_application()
    assert world.fire(app_id, "submit", "zj_staff").status_code == 200
    wait_for(lambda: len(smtp_sink.messages) >= 2, 30, "two e-mails")
    wait_for(lambda: all_sent(app, 2), 10, "both outbox rows marked sent")
    by_to = {m["To"]: m for m in smtp_sink.messages}
    assert set(by_to) == {"zj_leader@example.gov.cn", "leader2@example.gov.cn"}  # the clerk is told in-app only
    english, chinese = by_to["zj_leader@example.gov.cn"], by_to["leader2@example.gov.cn"]
    link = f"http://127.0.0.1:5000/applications/{app_id}"
    assert english["Content-Language"] == "en" and "Submit" in english["Subject"]
    assert link in english.get_payload(decode=True).decode()
    zh_body = chinese.get_payload(decode=True).decode()
    assert chinese["Content-Language"] == "zh-CN"
    assert "安吉县的申报已提交，现处于“县级审核”环节，请您办理。" in zh_body and link in zh_body
    # three more dispatcher runs (seen in the worker's log) find nothing more to send
    runs_so_far = worker.log.read_bytes().count(b"kxflow.dispatch_email[")
    wait_for(lambda: worker.log.read_bytes().count(b"kxflow.dispatch_email[") >= runs_so_far + 6, 30, "3 more runs")
    assert len(smtp_sink.messages) == 2 and len(smtp_sink.ids()) == 2
    with app.app_context():
        assert db.session.scalar(select(func.count(EmailDelivery.id))) == 2


@pytest.mark.parametrize("lock_store", ["database", "redis"])
def test_two_dispatcher_runs_at_once_send_each_message_once(world, app, smtp_sink, monkeypatch, lock_store):
    ids = pending_emails(world, 12)
    assert len(ids) == 12
    if lock_store == "redis":
        start_redis()
        monkeypatch.setitem(app.config, "REDIS_URL", REDIS_TEST_URL)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_sink.port)
    smtp_sink.stall_on = 1  # hold the first run inside its first message while the second one starts
    runs = []

    def run():
        with app.app_context():
            runs.append(dispatch_due())
            db.session.remove()

    first = threading.Thread(target=run)
    first.start()
    assert smtp_sink.stalled.wait(10)
    second = threading.Thread(target=run)
    second.start()
    second.join(10)
    assert [r.held_lock for r in runs] == [False]  # the second run found the lock taken and left
    smtp_sink.stall_on, smtp_sink.release = None, threading.Event()
    smtp_sink.release.set()
    first.join(30)
    # the stalled message was refused (451): it stays pending, due again after the backoff
    assert len(smtp_sink.messages) == 11
    world.travel(clock.now() + timedelta(minutes=2))
    with app.app_context():
        runs.append(dispatch_due())
        db.session.remove()
    assert sorted(smtp_sink.ids().values()) == [1] * 12
    assert all_sent(app, 12)


def test_a_worker_killed_mid_batch_and_restarted_sends_every_message_once(world, app, smtp_sink, start_worker):
    ids = pending_emails(world, 30)
    smtp_sink.stall_on = 11  # the worker is inside the SMTP exchange of its 11th message when it dies
    worker = start_worker()
    assert smtp_sink.stalled.wait(60)
    worker.kill()
    smtp_sink.release.set()
    assert len(smtp_sink.messages) == 10
    start_worker()  # a new worker (and beat): the lock of the dead run expires, the rest goes out
    wait_for(lambda: all_sent(app, 30), 60, "all 30 e-mails marked sent")
    counts = smtp_sink.ids()
    assert len(counts) == 30 and set(counts.values()) == {1}, counts
    with app.app_context():
        notifications = db.session.scalars(select(Notification).where(Notification.id.in_(ids))).all()
        assert {n.email_status for n in notifications} == {"sent"}


def test_redis_down_during_100_submissions_loses_and_doubles_nothing(world, app, smtp_sink, start_worker):
    ready = bulk_ready_applications(world, 100)
    start_redis()
    worker = start_worker(REDIS_URL=REDIS_TEST_URL)  # Redis is broker and lock store
    try:
        stop_redis()
        for app_id, clerk in ready:
            assert world.fire(app_id, "submit", clerk).status_code == 200  # the web needs no Redis
        # (a dispatch task the worker had already received before the outage may still send a few)
    finally:
        start_redis()
    wait_for(lambda: all_sent(app, 100), 120, "all 100 e-mails after Redis came back")
    counts = smtp_sink.ids()
    assert len(counts) == 100 and set(counts.values()) == {1}
    assert {m["To"] for m in smtp_sink.messages} == {
        f"leader_{c.removeprefix('clerk_')}@example.gov.cn" for _, c in ready
    }
    assert worker.proc.poll() is None  # the worker rode it out


def test_smtp_down_then_up_delivers_with_the_retries_recorded(world, app, smtp_sink, start_worker):
    smtp_sink.stop()  # the mail server is down
    app_id = world.new_application()
    world.fire(app_id, "submit", "zj_staff")
    start_worker()
    with app.app_context():
        notification_id = db.session.scalar(select(Notification.id).where(Notification.email_status == "pending"))

    def failed_attempts():
        with app.app_context():
            return db.session.scalar(select(Notification.email_attempts).where(Notification.id == notification_id))

    wait_for(lambda: failed_attempts() >= 2, 30, "two failed attempts")
    smtp_sink.start()
    wait_for(lambda: all_sent(app, 1), 60, "delivery after the server came back")
    assert len(smtp_sink.messages) == 1
    log = world.api("get", f"/api/v1/notifications/{notification_id}/deliveries", "ministry").json
    statuses = [a["status"] for a in log["attempts"]]
    assert statuses[-1] == "sent" and statuses[:-1] == ["failed"] * (len(statuses) - 1) and len(statuses) >= 3
    assert "Connection refused" in log["attempts"][0]["error"] or "Errno" in log["attempts"][0]["error"]
    assert world.api("get", f"/api/v1/notifications/{notification_id}/deliveries", "zj_staff").status_code == 403


def test_a_mail_server_down_costs_one_attempt_per_run_not_one_per_message(world, app, smtp_sink, monkeypatch):
    """An outage is the server's, not each message's: a run that cannot reach the server spends one attempt, on the
    message that found out, and leaves the others due with their attempts untouched (an outage of hours no longer
    gives every message up); the ministry reads why in Chinese; once the server answers, each goes out once."""
    ids = pending_emails(world, 4)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_sink.port)
    smtp_sink.stop()
    for waiting in (4, 3, 2):  # three runs during the outage, each finding the others due
        with app.app_context():
            run = dispatch_due()
        assert (run.sent, run.failed, run.released, run.unreachable) == (0, 1, waiting - 1, True)
    with app.app_context():
        attempts = db.session.scalars(select(Notification.email_attempts).where(Notification.id.in_(ids))).all()
        tried = db.session.scalar(
            select(Notification.application_id)
            .join(EmailDelivery, EmailDelivery.notification_id == Notification.id)
            .where(EmailDelivery.status == "failed")
            .limit(1)
        )
    assert sorted(attempts) == [0, 1, 1, 1]
    world.db_state(tried, "ministry_review")  # where the ministry reads the application's delivery log
    page = Browser(app, "ministry").text(f"/applications/{tried}")
    assert "无法连接邮件服务器" in page and "服务器恢复后将重新发送" in page

    smtp_sink.start()
    clock.freeze(clock.now() + timedelta(hours=1))  # past the backoff of those that were tried
    with app.app_context():
        run = dispatch_due()
    assert (run.sent, run.failed, run.unreachable) == (4, 0, False)
    assert all_sent(app, len(ids)) and set(smtp_sink.ids().values()) == {1}


def test_embedded_mode_needs_no_redis_and_writes_mail_to_the_sink(
    world, app, worker_env, start_worker, tmp_path, monkeypatch
):
    """What ``make run`` starts: a worker with beat on kombu's filesystem transport, e-mail as .eml files."""
    sink = tmp_path / "mail"
    assert "REDIS_URL" not in worker_env
    start_worker(MAIL_SERVER="", MAIL_SINK_FOLDER=str(sink))
    app_id = world.new_application()
    world.fire(app_id, "submit", "zj_staff")
    files = wait_for(lambda: list(sink.glob("*.eml")), 30, "an .eml file in the sink")
    assert len(files) == 1
    message = email_lib.message_from_bytes(files[0].read_bytes())
    assert message["To"] == "zj_leader@example.gov.cn"
    assert f"/applications/{app_id}" in message.get_payload(decode=True).decode()
    assert (Path(worker_env["KXFLOW_INSTANCE"]) / "celery" / "queue").is_dir()  # the broker is a folder
    monkeypatch.setitem(app.config, "MAIL_SINK_FOLDER", str(sink))
    shown = app.test_cli_runner().invoke(args=["kxflow", "mail"])  # how the README says to read it
    assert "To: zj_leader@example.gov.cn" in shown.output
    assert "安吉县的申报已提交，现处于“县级审核”环节，请您办理。" in shown.output


def test_information_is_emailed_only_to_those_who_ask(world, app):
    app_id = world.new_application()
    assert world.api("patch", "/api/v1/me", "zj_staff", json={"email_all": True, "locale": "en"}).json["email_all"]
    assert world.api("patch", "/api/v1/me", "zj_staff", json={"locale": "fr"}).status_code == 422
    world.walk(app_id, ("submit", "zj_staff"), ("county_approve", "zj_leader"))  # the clerk is told, for information
    world.walk(app_id, ("province_recommend", "zj_reviewer"))
    with app.app_context():
        rows = db.session.execute(
            select(User.username, Notification.kind, Notification.email_status)
            .join(User, User.id == Notification.recipient_id)
            .order_by(Notification.id)
        ).all()
    info = [(u, status) for u, kind, status in rows if kind == "info"]
    assert info == [("zj_staff", "pending"), ("zj_staff", "pending")]  # asked for everything
    assert world.api("get", "/api/v1/me", "zj_staff").json["locale"] == "en"
    world.api("patch", "/api/v1/me", "zj_staff", json={"email_all": False})
    other = world.new_application("zj2_staff")
    world.walk(other, ("submit", "zj2_staff"), ("county_approve", "zj2_leader"))
    with app.app_context():
        zj2 = db.session.scalar(select(User.id).where(User.username == "zj2_staff"))
        statuses = db.session.scalars(select(Notification.email_status).where(Notification.recipient_id == zj2)).all()
    assert statuses == ["none"]  # the default: information stays in the app


def test_a_slow_smtp_server_does_not_stall_the_queue(world, app, smtp_sink, monkeypatch):
    """A server that accepts the connection and then hangs past the timeout costs one message one attempt,
    not the queue: the others go out in the same run, the slow one later, each exactly once."""
    ids = pending_emails(world, 4)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_sink.port)
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT_SECONDS", 1.0)
    smtp_sink.stall_on = 1  # the first message hangs until released, far past the timeout
    started = time.monotonic()
    with app.app_context():
        run = dispatch_due()
    assert time.monotonic() - started < 10
    assert (run.sent, run.failed) == (3, 1)
    statuses = email_status(app, email=True)
    assert sorted(statuses.values()) == ["pending", "sent", "sent", "sent"]
    slow = next(i for i, status in statuses.items() if status == "pending")
    with app.app_context():
        attempt = db.session.scalar(select(EmailDelivery).where(EmailDelivery.notification_id == slow))
        assert attempt.status == "failed" and "timed out" in attempt.error.lower()
    smtp_sink.release.set()
    clock.freeze(clock.now() + timedelta(hours=1))  # past the retry's backoff
    with app.app_context():
        run = dispatch_due()
    assert (run.sent, run.failed) == (1, 0)
    assert all_sent(app, len(ids))
    assert len(smtp_sink.messages) == 4 and set(smtp_sink.ids().values()) == {1}


def test_a_run_sends_its_batch_over_one_connection(world, app, smtp_sink, monkeypatch):
    """One SMTP handshake per dispatcher run, not per message; each message still its own transaction."""
    ids = pending_emails(world, 6)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_sink.port)
    with app.app_context():
        run = dispatch_due()
    assert run.sent == 6 and all_sent(app, len(ids))
    assert len(smtp_sink.messages) == 6 and len(set(smtp_sink.peers)) == 1


@pytest.mark.parametrize(
    "subject",
    [
        "[kxflow] 安吉县: application Submit, now at County review — your action is needed.",
        "【示范县管理系统】安吉县的申报已提交，现处于“县级审核”环节，请您办理。" * 3,
        "催办 note with a line break\r\nBcc: spy@example.com and =?utf-8?b?5Lit?= typed by hand",
        "x" * 120 + " 中",
    ],
)
def test_a_subject_reads_back_as_written_and_cannot_add_a_header(subject):
    folded = mail.subject_header(subject)
    parsed = email_lib.message_from_bytes(f"Subject: {folded}\r\n\r\n".encode(), policy=email_policy.default)
    assert parsed["Subject"] == " ".join(subject.split())  # a line break in a comment reads as a space
    assert list(parsed.keys()) == ["Subject"]
    assert all(len(line) <= 78 for line in folded.splitlines()[1:])


def test_a_bad_address_costs_its_own_message_one_attempt_and_adds_no_recipient(world, app, smtp_sink, monkeypatch):
    ids = pending_emails(world, 3)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_sink.port)
    with app.app_context():
        bad = db.session.get(Notification, ids[1])
        db.session.execute(
            update(User).where(User.id == bad.recipient_id).values(email="x@example.gov.cn\r\nBcc: spy@example.com")
        )
        db.session.commit()
        run = dispatch_due()
    assert (run.sent, run.failed) == (2, 1)
    assert all(m["Bcc"] is None for m in smtp_sink.messages) and len(smtp_sink.messages) == 2
    log = world.api("get", f"/api/v1/notifications/{ids[1]}/deliveries", "ministry").json
    assert [a["status"] for a in log["attempts"]] == ["failed"] and "not one e-mail address" in log["attempts"][0][
        "error"
    ]
    assert sorted(email_status(app, email=True).values()) == ["pending", "sent", "sent"]


def test_a_sender_with_a_chinese_display_name_sends_from_its_address(world, app, smtp_sink, monkeypatch):
    """MAIL_SENDER in its usual form, a name and the address: the envelope carries the address alone, the From
    header the name (RFC 2047 encoded words: the message is otherwise ASCII) and the address, the Message-ID
    the address's domain."""
    pending_emails(world, 1)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_sink.port)
    monkeypatch.setitem(app.config, "MAIL_SENDER", "国家科技进步示范县管理系统 <noreply@example.gov.cn>")
    with app.app_context():
        run = dispatch_due()
    assert (run.sent, run.failed) == (1, 0)
    ((mail_from, content),) = smtp_sink.received
    assert mail_from == "noreply@example.gov.cn"
    message = email_lib.message_from_bytes(content, policy=email_policy.default)
    (sender,) = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("国家科技进步示范县管理系统", "noreply@example.gov.cn")
    assert content.split(b"\r\n\r\n")[0].isascii()
    assert message["Message-ID"].endswith("@example.gov.cn>")


def test_rows_claimed_by_a_run_that_died_go_out_once_when_its_lease_ends(world, app, smtp_sink, monkeypatch):
    """A run that claimed a batch and died before sending it: no other run takes those rows while the lease
    holds (it would race the dead run's sending), and the next run after it sends each exactly once."""
    ids = pending_emails(world, 5)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_sink.port)
    lease = timedelta(seconds=app.config["SCHEDULER_LOCK_SECONDS"])
    with app.app_context():
        assert len(claim(10, clock.now() + lease)) == 5  # ... and the process dies here
        db.session.remove()
        assert dispatch_due().sent == 0
    assert smtp_sink.messages == []
    world.travel(clock.now() + lease + timedelta(seconds=1))
    with app.app_context():
        assert dispatch_due().sent == 5
    assert all_sent(app, len(ids)) and sorted(smtp_sink.ids().values()) == [1] * 5


def test_an_internationalised_address_is_written_to_the_sink_like_any_other(world, app, tmp_path, monkeypatch):
    """Without an SMTP server (``make run``) mail goes to the sink folder: an address with Chinese characters,
    which an SMTPUTF8 server accepts, must be written there too, not fail until the dispatcher gives up."""
    ids = pending_emails(world, 1)
    sink = tmp_path / "mail"
    monkeypatch.setitem(app.config, "MAIL_SERVER", "")
    monkeypatch.setitem(app.config, "MAIL_SINK_FOLDER", str(sink))
    with app.app_context():
        row = db.session.get(Notification, ids[0])
        db.session.execute(update(User).where(User.id == row.recipient_id).values(email="县长@例子.中国"))
        db.session.commit()
        run = dispatch_due()
    assert (run.sent, run.failed) == (1, 0)
    (written,) = sink.glob("*.eml")
    message = email_lib.message_from_bytes(written.read_bytes(), policy=email_policy.default)
    assert message["To"] == "县长@例子.中国"
    assert email_status(app, email=True) == {ids[0]: "sent"}


def time_runs_out_after(monkeypatch, step: str) -> None:
    """The dispatcher's clock (its own only: the test SMTP server keeps the real one) stands still until the
    first ``Mailer.<step>`` returns, then jumps far past any run's end."""
    now = [0.0]
    monkeypatch.setattr(dispatch, "time", SimpleNamespace(monotonic=lambda: now[0]))
    original = getattr(mail.Mailer, step)

    def step_then_late(self, *args):
        original(self, *args)
        now[0] = 1e9

    monkeypatch.setattr(mail.Mailer, step, step_then_late)


def test_rows_a_run_had_no_time_left_for_are_due_again_at_once_not_after_its_lease(world, app, smtp_sink, monkeypatch):
    """A run whose lock is about to expire stops sending mid-batch: the rows it claimed and did not try are
    handed back due now (the next run sends them without waiting for the lease to end), each sent once."""
    ids = pending_emails(world, 3)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_sink.port)
    time_runs_out_after(monkeypatch, "finish")  # the first message is out, and the run's time is up
    with app.app_context():
        run = dispatch_due()
    assert (run.sent, run.released, run.failed) == (1, 2, 0)
    monkeypatch.undo()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_sink.port)
    with app.app_context():
        released = db.session.scalars(
            select(Notification).where(Notification.id.in_(ids), Notification.email_status == "pending")
        ).all()
        assert len(released) == 2 and {n.next_attempt_at for n in released} == {None}
        assert {n.email_attempts for n in released} == {0}  # not an attempt
        assert dispatch_due().sent == 2  # the same moment: no waiting for the lease
    assert all_sent(app, len(ids)) and sorted(smtp_sink.ids().values()) == [1] * 3


def test_a_message_whose_staging_outlasted_the_runs_time_is_not_handed_over(world, app, smtp_sink, monkeypatch):
    """Staging a message (connect, MAIL, RCPT, DATA, content: each up to the SMTP timeout) can run past the
    run's margin; its end must then not be sent, or the server could accept it after the lease ended, when the
    next run may already be sending the same row. It is hung up instead and left due for the next run."""
    ids = pending_emails(world, 2)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_sink.port)
    time_runs_out_after(monkeypatch, "stage")  # staging the first message took the run's remaining time
    with app.app_context():
        run = dispatch_due()
    assert (run.sent, run.released, run.failed) == (0, 2, 0)
    time.sleep(0.5)  # what the server would have accepted has arrived by now
    assert smtp_sink.messages == []
    monkeypatch.undo()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_sink.port)
    with app.app_context():
        assert dispatch_due().sent == 2  # due again at once, each attempt still its first
    assert all_sent(app, len(ids)) and sorted(smtp_sink.ids().values()) == [1] * 2


def test_the_ministry_reads_why_an_email_was_not_sent_in_its_own_language(world, app, tmp_path, monkeypatch):
    """The delivery log on an application's page: the dispatcher's own reasons (no address or a disabled
    account; an address that is not one address) in Chinese for a Chinese reader, not the log's English."""
    ids = pending_emails(world, 2)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "")
    monkeypatch.setitem(app.config, "MAIL_SINK_FOLDER", str(tmp_path / "mail"))
    with app.app_context():
        disabled, bad = (db.session.get(Notification, i) for i in ids)
        db.session.execute(update(User).where(User.id == disabled.recipient_id).values(active=False))
        db.session.execute(
            update(User).where(User.id == bad.recipient_id).values(email="x@example.gov.cn, y@example.com")
        )
        db.session.commit()
        pages = {"disabled": disabled.application_id, "bad": bad.application_id}
        run = dispatch_due()
    assert (run.cancelled, run.failed) == (1, 1)
    for app_id in pages.values():
        world.db_state(app_id, "ministry_review")  # where the ministry reads the application and its log
    web = Browser(app, "ministry")
    page = web.text(f"/applications/{pages['disabled']}")
    assert "没有电子邮件地址或账号已停用，未发送。" in page and "no e-mail address" not in page
    page = web.text(f"/applications/{pages['bad']}")
    assert "收件人的电子邮件地址不是一个有效地址，未发送。" in page and "not one e-mail address" not in page

"""A per-run alert as an email: rendered, wrapped with its headers, ready for the channel.

Registered in worker/registry.py (`ALERT_MESSAGES`), so the pipeline's send job
(worker/run_alert_send.py) never names email. Every failure to build the message is a
`DeliveryError`, so the job decides retry or give up from the class alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from strideguard.integrations.email.alert_render import AlertContext, render_run_alert
from strideguard.integrations.email.digest_links import make_digest_links
from strideguard.integrations.email.mime import build_message
from strideguard.integrations.email.render import AthleteView, TemplateRenderError
from strideguard.integrations.email.smtp import (
    PermanentBounce,
    PermanentSendError,
    TransientSendError,
)
from strideguard.models import Athlete
from strideguard.settings import Settings
from strideguard.worker.ports import Delivery, DeliveryError, RiskyRunFinding


class EmailAlerts:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def delivery(
        self, athlete: Athlete, message_id: str, runs: Sequence[RiskyRunFinding]
    ) -> Delivery:
        """The alert with fresh signed links (unsubscribe, mute, pause, check-in)."""
        settings = self.settings
        if not settings.smtp_url:
            raise TransientSendError("SMTP_URL is not set; the alert waits until it is")
        links = make_digest_links(
            athlete.id,
            [run.finding.rule for run in runs],
            settings,
            unsubscribe_mailbox=settings.unsubscribe_address,
        )
        # The limits judged with the latest run: the ceiling after it.
        latest = max(runs, key=lambda run: str(run.finding.date or ""))
        try:
            rendered = render_run_alert(
                AlertContext(
                    athlete=AthleteView.of(athlete),
                    runs=[run.finding for run in runs],
                    links=links,
                    limits=latest.limits,
                )
            )
        except TemplateRenderError as exc:
            # Not the runner's fault: retried until an operator fixes the template.
            raise TransientSendError(f"template error: {exc}") from exc
        try:
            message = build_message(
                rendered,
                to=athlete.email or "",
                from_=settings.mail_from,
                message_id=message_id,
                links=links,
            )
        except ValueError as exc:  # no usable recipient address
            raise PermanentSendError(str(exc)) from exc
        return Delivery(athlete.email or "", message)

    def recipient_refused(self, error: DeliveryError) -> bool:
        """The address itself was refused: no more mail to it until the runner fixes it."""
        return isinstance(error, PermanentBounce)

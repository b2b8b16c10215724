"""The notifier: render a week's digest, wrap it as MIME, and hand it to SMTP.

Public API for the worker (all pure except `send_message`):

    links = make_digest_links(athlete_id, rule_ids, settings)
    rendered = render_digest(DigestContext(athlete, week_start, findings, weekly_distance_m, links))
    msg = build_message(rendered, to=email, from_=settings.mail_from, message_id=..., links=links)
    send_message(msg, settings.smtp_url, timeout=30, recipient=email)
"""

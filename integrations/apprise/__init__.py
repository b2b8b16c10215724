"""Push and chat channels through Apprise: ntfy, Telegram, Signal, Matrix, Discord, Slack, ...

The second `Channel` (worker/ports.py), registered as "apprise" in worker/registry.py.
`urls.py` checks and labels a URL, `store.py` keeps a runner's URLs sealed at rest, and
`channel.py` delivers one short message to one URL.
"""

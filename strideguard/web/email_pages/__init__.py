"""The pages a runner reaches from a digest's links: confirm, preferences, pause,
unsubscribe and the back-pain check-in. Part of the composition root."""

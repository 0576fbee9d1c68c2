"""Notifications for a night away: an approval waits, a job finished or failed, the budget
is nearly spent, the session stopped — to a Slack-compatible webhook, ntfy or email.

``notifier.py`` subscribes to the session's event bus and decides what is worth a message;
``senders.py`` delivers them, on a worker thread so the loop never waits for the network.
"""

"""Webhook subscriptions of outside systems, their delivery log, redelivery and test pings."""

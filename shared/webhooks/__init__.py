"""Webhooks: delivering outbox events to outside systems, signed per Standard Webhooks.

- `matching`: which subscriptions want which event (type patterns, filters);
- `ssrf`: the guard that keeps webhook URLs off private, loopback and link-local addresses;
- `signing`: secrets (`whsec_...`) and the `webhook-*` headers;
- `dispatcher`: fan-out of outbox events into deliveries, and their sending with retries;
- `__main__`: the dispatcher process, `python -m shared.webhooks`.
"""

"""Alerts: rules over the stored scores → one alert per episode → delivery that loses nothing.

``rules`` turns the workspace's ``alerts:`` config and the stored snapshots of a date into the
accounts each rule holds for; ``episodes`` opens an alert when a rule starts holding, keeps it
open while it holds and re-arms when it clears; ``deliver`` sends the outbox (webhook, e-mail,
a JSON-lines file) with an idempotency key per alert; ``digest`` renders a CSM's weekly mail.
Nothing here is imported by the scoring path.
"""

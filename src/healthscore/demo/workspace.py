"""The ``healthscore.yaml`` the demo writes next to its exports: how each file maps onto the
canonical tables (see ``docs/sources.md`` for the format)."""

from __future__ import annotations

WORKSPACE_YAML = """\
# healthscore workspace for the synthetic demo company (written by `healthscore demo`).
# Each source maps one export onto a canonical table; `columns:` maps canonical column →
# source column (or {column, format, map, value}); same-named columns need no entry.
name: demo
timezone: UTC
sources:
  # quarterly CRM snapshots: each row is valid from its Snapshot Date
  crm_accounts:
    table: accounts
    path: data/crm/accounts/accounts_*.csv
    valid_from: {column: Snapshot Date}
    columns:
      account_id: Account ID
      name: Account Name
      plan: {column: Plan, map: {Starter: starter, Business: business, Enterprise: enterprise}}
      segment: {column: Segment, map: {SMB: smb, Mid-Market: mid-market, Enterprise: enterprise}}
      lifecycle_stage: {column: Lifecycle Stage, map: {Onboarding: onboarding, Adoption: adoption, Mature: mature, Renewal: renewal, Churned: churned}}
      arr: ARR
      seats: Seats
      csm: CSM
      renewal_date: {column: Renewal Date, format: "%m/%d/%Y"}
      contract_start: {column: Contract Start, format: "%m/%d/%Y"}
      churned_at: {column: Churn Date, format: "%m/%d/%Y"}
      industry: Industry
  product_users:
    table: users
    path: data/product/users.csv
  # product analytics export: one Parquet part file per 500 accounts, time in epoch ms
  product_events:
    table: usage_events
    path: data/product/events/*.parquet
    columns:
      account_id: account
      user_id: user
      event: event_name
      timestamp: {column: time, format: epoch_ms}
      quantity: count
  # help-desk export: nested JSON lines, times with the customer's UTC offset
  helpdesk_tickets:
    table: tickets
    path: data/helpdesk/tickets.jsonl
    columns:
      ticket_id: id
      account_id: organization.external_id
      opened_at: created_at
      closed_at: solved_at
      priority: priority
      csat: {column: satisfaction_rating.score, map: {good: "5", bad: "1", offered: ""}}
  nps_survey:
    table: surveys
    path: data/surveys/nps.csv
    columns:
      account_id: Account
      user_id: User
      kind: {value: nps}
      score: Score
      responded_at: {column: Submitted, format: "%m/%d/%Y %H:%M"}
      comment: Comment
  csat_survey:
    table: surveys
    path: data/surveys/csat.csv
    columns:
      kind: {value: csat}
      responded_at: {column: responded_at, format: epoch_s}
  billing_invoices:
    table: invoices
    path: data/billing/invoices.csv
    columns:
      invoice_id: Invoice Number
      account_id: Customer ID
      amount: Amount
      currency: Currency
      issued_at: Invoice Date
      due_at: Due Date
      paid_at: Paid Date
  crm_touchpoints:
    table: touchpoints
    path: data/crm/touchpoints.csv
    columns:
      kind: {column: type, map: {Meeting: meeting, Call: call, Email: email, QBR: qbr}}
      occurred_at: date
      author: owner
  crm_contacts: {table: contacts, path: data/crm/contacts.csv}
  lms_trainings: {table: trainings, path: data/lms/trainings.csv}
  advocacy: {table: advocacy, path: data/marketing/advocacy.csv}
  outcomes: {table: outcomes, path: data/cs/outcomes.csv}
  csm_pulses: {table: pulses, path: data/cs/pulses.csv}
  # ground truth for backtests: one row per renewal date inside the window
  renewals: {table: renewals, path: data/crm/renewals.csv}
"""


#: The demo's alert rules (`healthscore demo` adds them; docs/alerts.md): delivered to a
#: JSON-lines file, so nothing leaves the machine.
ALERTS_YAML = """\
# Alert rules (docs/alerts.md): checked by `healthscore run` and `healthscore alerts check`.
alerts:
  channels:
    team-log: {kind: file, path: alerts/alerts.jsonl}
  route:
    default: [team-log]
  rules:
    entered-red:
      when: {band: red}
      severity: critical
    sharp-drop:
      when: {drop: {points: 15, days: 30}}
      message: "{name}: {change:+.0f} points in 30 days, now {score:.0f} ({band}). Why: {reasons}"
    renewal-at-risk:
      when: {renewal: {within_days: 90, bands: [red]}}
      severity: critical
      only: {arr_at_least: 10000}
    invoice-overdue:
      when: {invoice_overdue: 30}
      severity: info
"""

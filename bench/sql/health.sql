-- The demo `health` scorecard (src/healthscore/demo/scorecards/health.yaml), written by hand in
-- DuckDB SQL against a healthscore store: what a careful engineer would write to get the same
-- numbers without healthscore. It is the benchmark's "practical limit of one machine".
--
-- {{as_of}} is the scoring date and {{cutoff}} the midnight after it (data up to the end of the
-- as-of date counts). bench/sql_impl.py fills them in; by hand:
--   sed -e 's/{{as_of}}/2026-10-31/g' -e 's/{{cutoff}}/2026-11-01 00:00:00/g' bench/sql/health.sql \
--     | duckdb -readonly bench/data/S/healthscore.duckdb
-- It leaves temporary tables health_measures (one row per account and measure: raw value,
-- measure score, effective weight, points) and health_scores (one row per account: variant,
-- score, band, grade, coverage).
--
-- The point-in-time rules are healthscore's (src/healthscore/measures/base.py): rows after the
-- cutoff are left out, state tables (accounts, users, contacts) are read as of the cutoff, and
-- values not yet known then are hidden (a ticket closed later is open and has no CSAT yet, an
-- invoice paid later is unpaid, a user deactivated later is active).

SET TimeZone = 'UTC';

-- Linear scoring: `lo` scores 0, `hi` scores 100, clamped. GREATEST/LEAST skip NULLs, hence CASE.
CREATE OR REPLACE TEMP MACRO linear_score(v, lo, hi) AS
    CASE WHEN v IS NULL THEN NULL
         ELSE greatest(0.0, least(100.0, (v - lo) / (hi - lo) * 100.0)) END;

-- A measure reading a table with no rows at all as of the date is missing for every account.
-- (A separate statement: inside the big query below these EXISTS hang DuckDB 2.0 at size M.)
CREATE OR REPLACE TEMP TABLE has AS SELECT
    EXISTS (SELECT 1 FROM usage_events WHERE timestamp < TIMESTAMP '{{cutoff}}') AS usage,
    EXISTS (SELECT 1 FROM tickets WHERE opened_at < TIMESTAMP '{{cutoff}}') AS tickets,
    EXISTS (SELECT 1 FROM surveys WHERE responded_at < TIMESTAMP '{{cutoff}}') AS surveys,
    EXISTS (SELECT 1 FROM pulses WHERE "at" < TIMESTAMP '{{cutoff}}') AS pulses,
    EXISTS (SELECT 1 FROM touchpoints WHERE occurred_at < TIMESTAMP '{{cutoff}}') AS touchpoints,
    EXISTS (SELECT 1 FROM contacts
            WHERE (_valid_from IS NULL OR _valid_from < TIMESTAMP '{{cutoff}}')
              AND (_valid_to IS NULL OR _valid_to >= TIMESTAMP '{{cutoff}}')) AS contacts,
    EXISTS (SELECT 1 FROM invoices WHERE issued_at <= DATE '{{as_of}}') AS invoices,
    EXISTS (SELECT 1 FROM users
            WHERE (_valid_from IS NULL OR _valid_from < TIMESTAMP '{{cutoff}}')
              AND (_valid_to IS NULL OR _valid_to >= TIMESTAMP '{{cutoff}}')
              AND (created_at IS NULL OR created_at < TIMESTAMP '{{cutoff}}')) AS users,
    EXISTS (SELECT 1 FROM trainings WHERE completed_at < TIMESTAMP '{{cutoff}}') AS trainings,
    EXISTS (SELECT 1 FROM outcomes WHERE achieved_at < TIMESTAMP '{{cutoff}}') AS outcomes;

CREATE OR REPLACE TEMP TABLE health_measures AS
WITH
-- ---------------------------------------------------------------- the store as of the cutoff
accounts_asof AS (
    SELECT * FROM accounts
    WHERE (_valid_from IS NULL OR _valid_from < TIMESTAMP '{{cutoff}}')
      AND (_valid_to IS NULL OR _valid_to >= TIMESTAMP '{{cutoff}}')
),
active AS (  -- contract started, not churned (by the account or by a churned renewal)
    SELECT a.account_id, a.segment, a.seats,
           CASE WHEN a.lifecycle_stage = 'onboarding' THEN 'onboarding'
                WHEN a.segment = 'enterprise' THEN 'enterprise'
                ELSE 'base' END AS variant
    FROM accounts_asof a
    WHERE (a.contract_start IS NULL OR a.contract_start <= DATE '{{as_of}}')
      AND (a.churned_at IS NULL OR a.churned_at > DATE '{{as_of}}')
      AND NOT EXISTS (SELECT 1 FROM renewals r
                      WHERE r.account_id = a.account_id AND r.outcome = 'churned'
                        AND r.renewal_date <= DATE '{{as_of}}')
),
tickets_asof AS (
    SELECT account_id, opened_at, priority,
           CASE WHEN closed_at >= TIMESTAMP '{{cutoff}}' THEN NULL ELSE closed_at END AS closed_at,
           CASE WHEN closed_at IS NULL OR closed_at >= TIMESTAMP '{{cutoff}}' THEN NULL
                ELSE csat END AS csat
    FROM tickets WHERE opened_at < TIMESTAMP '{{cutoff}}'
),
invoices_asof AS (
    SELECT account_id, due_at,
           CASE WHEN paid_at > DATE '{{as_of}}' THEN NULL ELSE paid_at END AS paid_at
    FROM invoices WHERE issued_at <= DATE '{{as_of}}'
),
contacts_asof AS (
    SELECT account_id, contact_id, lower(role) AS role, active_from, active_to FROM contacts
    WHERE (_valid_from IS NULL OR _valid_from < TIMESTAMP '{{cutoff}}')
      AND (_valid_to IS NULL OR _valid_to >= TIMESTAMP '{{cutoff}}')
),
users_asof AS (
    SELECT user_id, account_id,
           CASE WHEN deactivated_at >= TIMESTAMP '{{cutoff}}' THEN NULL
                ELSE deactivated_at END AS deactivated_at
    FROM users
    WHERE (_valid_from IS NULL OR _valid_from < TIMESTAMP '{{cutoff}}')
      AND (_valid_to IS NULL OR _valid_to >= TIMESTAMP '{{cutoff}}')
      AND (created_at IS NULL OR created_at < TIMESTAMP '{{cutoff}}')
),
-- ---------------------------------------------------------------- usage: four narrow passes
last_activity AS (  -- the whole history up to the cutoff
    SELECT account_id,
           (epoch(TIMESTAMP '{{cutoff}}') - epoch(max(timestamp))) / 86400 AS days_since
    FROM usage_events WHERE timestamp < TIMESTAMP '{{cutoff}}'
    GROUP BY account_id
),
volume AS (  -- events (by quantity) in the 30-day window and in the 30 days before it
    SELECT account_id,
           sum(coalesce(quantity, 1)) FILTER (timestamp >= TIMESTAMP '{{cutoff}}' - INTERVAL 30 DAY) AS q_now,
           sum(coalesce(quantity, 1)) FILTER (timestamp < TIMESTAMP '{{cutoff}}' - INTERVAL 30 DAY) AS q_before
    FROM usage_events
    WHERE timestamp >= TIMESTAMP '{{cutoff}}' - INTERVAL 60 DAY AND timestamp < TIMESTAMP '{{cutoff}}'
    GROUP BY account_id
),
features AS (  -- distinct events used in the 30-day window
    SELECT account_id, count(*) AS features
    FROM (SELECT DISTINCT account_id, event FROM usage_events
          WHERE timestamp >= TIMESTAMP '{{cutoff}}' - INTERVAL 30 DAY
            AND timestamp < TIMESTAMP '{{cutoff}}')
    GROUP BY account_id
),
user_days AS (  -- identified users active in the 30-day window, and their active (UTC) days:
    -- one bit per day of the window, OR-ed per user, counted; cheaper than DISTINCT on days
    SELECT account_id, count(*) AS users, sum(days) AS user_days
    FROM (SELECT account_id, user_id,
                 bit_count(bit_or(1::UBIGINT << date_diff('day', DATE '{{as_of}}' - 29,
                                                           CAST(timestamp AS DATE)))) AS days
          FROM usage_events
          WHERE timestamp >= TIMESTAMP '{{cutoff}}' - INTERVAL 30 DAY
            AND timestamp < TIMESTAMP '{{cutoff}}' AND user_id IS NOT NULL
          GROUP BY account_id, user_id)
    GROUP BY account_id
),
-- ---------------------------------------------------------------- the other signals
support AS (
    SELECT account_id,
           count(*) FILTER (closed_at IS NULL) AS open_tickets,
           count(*) FILTER (opened_at >= TIMESTAMP '{{cutoff}}' - INTERVAL 60 DAY
                            AND priority IN ('urgent', 'high')) AS high_priority,
           avg(csat) FILTER (closed_at >= TIMESTAMP '{{cutoff}}' - INTERVAL 90 DAY) AS csat
    FROM tickets_asof GROUP BY account_id
),
nps AS (
    SELECT account_id, avg(score) AS nps_average FROM surveys
    WHERE kind = 'nps' AND responded_at < TIMESTAMP '{{cutoff}}'
      AND responded_at >= TIMESTAMP '{{cutoff}}' - INTERVAL 180 DAY
    GROUP BY account_id
),
pulse AS (  -- the latest pulse in force, not older than 90 days; the lower of simultaneous ones
    SELECT account_id, min(value) AS pulse
    FROM (SELECT account_id, value, "at", max("at") OVER (PARTITION BY account_id) AS last_at
          FROM pulses
          WHERE "at" < TIMESTAMP '{{cutoff}}' AND "at" >= TIMESTAMP '{{cutoff}}' - INTERVAL 90 DAY
            AND (expires_at IS NULL OR expires_at > TIMESTAMP '{{cutoff}}'))
    WHERE "at" = last_at
    GROUP BY account_id
),
touch AS (
    SELECT account_id,
           (epoch(TIMESTAMP '{{cutoff}}') - epoch(max(occurred_at))) / 86400 AS days_since,
           max(CASE WHEN kind = 'qbr' AND occurred_at >= TIMESTAMP '{{cutoff}}' - INTERVAL 120 DAY
                    THEN 1.0 ELSE 0.0 END) AS qbr
    FROM touchpoints WHERE occurred_at < TIMESTAMP '{{cutoff}}'
    GROUP BY account_id
),
relationship AS (  -- contacts active on the as-of date
    SELECT account_id, count(DISTINCT contact_id) AS engaged,
           max(CASE WHEN role = 'champion' THEN 1.0 ELSE 0.0 END) AS champion
    FROM contacts_asof
    WHERE (active_from IS NULL OR active_from <= DATE '{{as_of}}')
      AND (active_to IS NULL OR active_to >= DATE '{{as_of}}')
    GROUP BY account_id
),
overdue AS (
    SELECT account_id, max(date_diff('day', due_at, DATE '{{as_of}}')) AS days_past_due
    FROM invoices_asof WHERE paid_at IS NULL AND due_at < DATE '{{as_of}}'
    GROUP BY account_id
),
training AS (  -- share of the account's current users with a completed training
    SELECT u.account_id, count(t.user_id) / count(*) AS trained_share
    FROM users_asof u
    LEFT JOIN (SELECT DISTINCT user_id FROM trainings
               WHERE completed_at < TIMESTAMP '{{cutoff}}' AND user_id IS NOT NULL) t
           USING (user_id)
    WHERE u.deactivated_at IS NULL
    GROUP BY u.account_id
),
goals AS (
    SELECT account_id, count(*) AS goals FROM outcomes
    WHERE achieved_at < TIMESTAMP '{{cutoff}}' GROUP BY account_id
),
-- ---------------------------------------------------------------- raw values, one row per account
raw AS (
    SELECT a.account_id, a.variant, a.segment,
        CASE WHEN has.usage AND a.seats > 0 THEN coalesce(ud.users, 0) / a.seats END
            AS active_user_ratio,
        CASE WHEN has.usage THEN coalesce(ud.user_days / ud.users, 0) END AS active_days_per_user,
        CASE WHEN has.usage AND v.q_before > 0
             THEN (coalesce(v.q_now, 0) - v.q_before) / v.q_before END AS usage_trend,
        CASE WHEN has.usage THEN la.days_since END AS days_since_last_activity,
        CASE WHEN has.usage THEN coalesce(f.features, 0) END AS feature_breadth,
        CASE WHEN has.tickets THEN coalesce(s.high_priority, 0) END AS high_priority_tickets,
        CASE WHEN has.tickets THEN coalesce(s.open_tickets, 0) END AS open_tickets,
        CASE WHEN has.tickets THEN s.csat END AS ticket_csat,
        CASE WHEN has.surveys THEN n.nps_average END AS nps_average,
        CASE WHEN has.pulses THEN p.pulse END AS csm_pulse,
        CASE WHEN has.touchpoints THEN t.days_since END AS days_since_last_touchpoint,
        CASE WHEN has.touchpoints THEN coalesce(t.qbr, 0) END AS qbr_held,
        CASE WHEN has.contacts THEN coalesce(r.champion, 0) END AS champion_present,
        CASE WHEN has.contacts THEN coalesce(r.engaged, 0) END AS engaged_contacts,
        CASE WHEN has.invoices THEN coalesce(o.days_past_due, 0) END AS days_past_due,
        CASE WHEN has.users AND has.trainings THEN tr.trained_share END AS training_completion,
        CASE WHEN has.outcomes THEN coalesce(g.goals, 0) END AS goals_achieved
    FROM active a
    CROSS JOIN has
    LEFT JOIN user_days ud USING (account_id)
    LEFT JOIN volume v USING (account_id)
    LEFT JOIN features f USING (account_id)
    LEFT JOIN last_activity la USING (account_id)
    LEFT JOIN support s USING (account_id)
    LEFT JOIN nps n USING (account_id)
    LEFT JOIN pulse p USING (account_id)
    LEFT JOIN touch t USING (account_id)
    LEFT JOIN relationship r USING (account_id)
    LEFT JOIN overdue o USING (account_id)
    LEFT JOIN training tr USING (account_id)
    LEFT JOIN goals g USING (account_id)
),
-- ---------------------------------------------------------------- measure scores 0-100
scored AS (
    SELECT *,
        CASE WHEN variant = 'onboarding' THEN linear_score(active_user_ratio, 0.02, 0.35)
             ELSE linear_score(active_user_ratio, 0.05, 0.5) END AS s_active_user_ratio,
        linear_score(active_days_per_user, 1, 10) AS s_active_days_per_user,
        linear_score(usage_trend, -0.5, 0.1) AS s_usage_trend,
        CASE WHEN days_since_last_activity IS NULL THEN NULL
             WHEN days_since_last_activity <= 2 THEN 100 WHEN days_since_last_activity <= 7 THEN 70
             WHEN days_since_last_activity <= 21 THEN 30 ELSE 0 END AS s_days_since_last_activity,
        -- percentile within segment: 100 × (lower + ½ × other equal) / (n − 1); 50 when n = 1
        CASE WHEN feature_breadth IS NULL THEN NULL
             WHEN count(feature_breadth) OVER (PARTITION BY segment) = 1 THEN 50
             ELSE 100.0 * (rank() OVER (PARTITION BY segment ORDER BY feature_breadth) - 1
                           + 0.5 * (count(*) OVER (PARTITION BY segment, feature_breadth) - 1))
                  / (count(feature_breadth) OVER (PARTITION BY segment) - 1)
             END AS s_feature_breadth,
        CASE WHEN high_priority_tickets IS NULL THEN NULL
             WHEN high_priority_tickets <= 0 THEN 100 WHEN high_priority_tickets <= 1 THEN 70
             WHEN high_priority_tickets <= 3 THEN 40 ELSE 10 END AS s_high_priority_tickets,
        linear_score(open_tickets, 6, 0) AS s_open_tickets,
        linear_score(ticket_csat, 2, 4.8) AS s_ticket_csat,
        linear_score(nps_average, 3, 9.5) AS s_nps_average,
        CASE csm_pulse WHEN 1 THEN 0 WHEN 2 THEN 25 WHEN 3 THEN 50 WHEN 4 THEN 75 WHEN 5 THEN 100
             END AS s_csm_pulse,
        linear_score(days_since_last_touchpoint, 60, 7) AS s_days_since_last_touchpoint,
        CASE WHEN qbr_held IS NULL THEN NULL WHEN qbr_held <> 0 THEN 100
             WHEN variant = 'enterprise' THEN 0 ELSE 30 END AS s_qbr_held,
        CASE WHEN champion_present IS NULL THEN NULL WHEN champion_present <> 0 THEN 100 ELSE 0
             END AS s_champion_present,
        linear_score(engaged_contacts, 0, 4) AS s_engaged_contacts,
        CASE WHEN days_past_due IS NULL THEN NULL
             WHEN days_past_due <= 0 THEN 100 WHEN days_past_due <= 15 THEN 70
             WHEN days_past_due <= 45 THEN 30 ELSE 0 END AS s_days_past_due,
        linear_score(training_completion, 0, 0.5) AS s_training_completion,
        linear_score(goals_achieved, 0, 2) AS s_goals_achieved
    FROM raw
),
typed AS (  -- every value and score as DOUBLE, so the unpivot below keeps them exact
    SELECT account_id, variant, COLUMNS(* EXCLUDE (account_id, variant, segment))::DOUBLE
    FROM scored
),
long AS (  -- one row per account and measure, missing values included
    SELECT account_id, variant, measure, raw_value, score
    FROM typed UNPIVOT INCLUDE NULLS ((raw_value, score) FOR measure IN (
        (active_user_ratio, s_active_user_ratio) AS active_user_ratio,
        (active_days_per_user, s_active_days_per_user) AS active_days_per_user,
        (usage_trend, s_usage_trend) AS usage_trend,
        (days_since_last_activity, s_days_since_last_activity) AS days_since_last_activity,
        (feature_breadth, s_feature_breadth) AS feature_breadth,
        (high_priority_tickets, s_high_priority_tickets) AS high_priority_tickets,
        (open_tickets, s_open_tickets) AS open_tickets,
        (ticket_csat, s_ticket_csat) AS ticket_csat,
        (nps_average, s_nps_average) AS nps_average,
        (csm_pulse, s_csm_pulse) AS csm_pulse,
        (days_since_last_touchpoint, s_days_since_last_touchpoint) AS days_since_last_touchpoint,
        (qbr_held, s_qbr_held) AS qbr_held,
        (champion_present, s_champion_present) AS champion_present,
        (engaged_contacts, s_engaged_contacts) AS engaged_contacts,
        (days_past_due, s_days_past_due) AS days_past_due,
        (training_completion, s_training_completion) AS training_completion,
        (goals_achieved, s_goals_achieved) AS goals_achieved))
),
-- ---------------------------------------------------------------- weights per variant
base_weights(grp, measure, group_weight, measure_weight, fixed_score, ord) AS (VALUES
    ('usage', 'active_user_ratio', 35.0, 3.0, NULL::DOUBLE, 1),
    ('usage', 'active_days_per_user', 35.0, 2.0, NULL, 2),
    ('usage', 'usage_trend', 35.0, 2.0, NULL, 3),
    ('usage', 'days_since_last_activity', 35.0, 1.0, NULL, 4),
    ('usage', 'feature_breadth', 35.0, 1.0, NULL, 5),
    ('support', 'high_priority_tickets', 15.0, 2.0, NULL, 6),
    ('support', 'open_tickets', 15.0, 1.0, NULL, 7),
    ('support', 'ticket_csat', 15.0, 1.0, NULL, 8),
    ('sentiment', 'nps_average', 15.0, 2.0, NULL, 9),
    ('sentiment', 'csm_pulse', 15.0, 1.0, NULL, 10),
    ('engagement', 'days_since_last_touchpoint', 10.0, 1.0, NULL, 11),
    ('engagement', 'qbr_held', 10.0, 1.0, NULL, 12),
    ('relationship', 'champion_present', 10.0, 2.0, NULL, 13),
    ('relationship', 'engaged_contacts', 10.0, 1.0, NULL, 14),
    ('financial', 'days_past_due', 10.0, 1.0, 100.0, 15),   -- missing: fixed score 100
    ('enablement', 'training_completion', 5.0, 1.0, NULL, 16),
    ('enablement', 'goals_achieved', 5.0, 1.0, NULL, 17)
),
weights AS (  -- the variants' overrides
    SELECT v.variant, b.grp, b.measure, b.fixed_score, b.ord,
        CASE WHEN v.variant = 'onboarding' AND b.grp = 'enablement' THEN 15.0
             WHEN v.variant = 'enterprise' AND b.grp = 'relationship' THEN 20.0
             WHEN v.variant = 'enterprise' AND b.grp = 'engagement' THEN 15.0
             ELSE b.group_weight END AS gw,
        CASE WHEN v.variant = 'onboarding' AND b.measure = 'usage_trend' THEN 0.0
             WHEN v.variant = 'enterprise' AND b.measure = 'qbr_held' THEN 2.0
             ELSE b.measure_weight END AS mw
    FROM base_weights b CROSS JOIN (VALUES ('base'), ('onboarding'), ('enterprise')) v(variant)
),
group_totals AS (
    SELECT variant, grp, any_value(gw) AS gw, sum(mw) AS group_mw FROM weights GROUP BY ALL
),
variant_totals AS (
    SELECT variant, sum(gw) FILTER (gw > 0 AND group_mw > 0) AS total_gw
    FROM group_totals GROUP BY ALL
),
nominal AS (  -- each measure's share of the score when every measure has data
    SELECT w.*,
        CASE WHEN w.mw > 0 AND w.gw > 0 AND g.group_mw > 0
             THEN w.gw / t.total_gw * w.mw / g.group_mw ELSE 0.0 END AS nominal
    FROM weights w JOIN group_totals g USING (variant, grp) JOIN variant_totals t USING (variant)
),
-- ---------------------------------------------------------------- missing data: renormalise
m AS (
    SELECT l.account_id, l.variant, n.grp, l.measure, n.ord, l.raw_value, l.score, n.gw, n.mw,
           n.nominal, coalesce(l.score, n.fixed_score) AS value,
           coalesce(l.score, n.fixed_score) IS NOT NULL AND n.mw > 0 AND n.gw > 0 AS used
    FROM long l JOIN nominal n USING (variant, measure)
),
g AS (
    SELECT account_id, grp, any_value(gw) AS gw, sum(mw) FILTER (used) AS used_w
    FROM m GROUP BY ALL
),
acc AS (SELECT account_id, sum(gw) FILTER (used_w > 0) AS row_total FROM g GROUP BY ALL)
SELECT m.account_id, m.variant, m.grp AS "group", m.measure, m.ord, m.raw_value,
       coalesce(m.score, m.value) AS score, m.score IS NULL AS missing, m.nominal,
       CASE WHEN m.used THEN m.mw * (m.gw / acc.row_total) / g.used_w ELSE 0.0 END AS weight,
       CASE WHEN m.used THEN m.mw * (m.gw / acc.row_total) / g.used_w * m.value ELSE 0.0 END
           AS points
FROM m JOIN g USING (account_id, grp) JOIN acc USING (account_id);

CREATE OR REPLACE TEMP TABLE health_scores AS
WITH s AS (
    SELECT account_id, any_value(variant) AS variant,
           CASE WHEN sum(weight) > 0 THEN greatest(0.0, least(100.0, sum(points))) END AS score,
           CASE WHEN sum(weight) > 0
                THEN greatest(0.0, least(1.0, sum(nominal) FILTER (NOT missing))) ELSE 0.0 END
               AS coverage
    FROM health_measures GROUP BY account_id
),
f AS (  -- fixed scores alone are not a score: no data, no score
    SELECT account_id, variant, CASE WHEN coverage > 0 THEN score END AS score,
           coalesce(coverage, 0.0) AS coverage
    FROM s
)
SELECT account_id, variant, score,
       CASE WHEN score IS NULL THEN NULL WHEN score < 50 THEN 'red' WHEN score < 65 THEN 'yellow'
            ELSE 'green' END AS band,
       CASE WHEN score IS NULL THEN NULL WHEN score >= 85 THEN 'A' WHEN score >= 70 THEN 'B'
            WHEN score >= 55 THEN 'C' WHEN score >= 40 THEN 'D' ELSE 'F' END AS grade,
       coverage
FROM f;

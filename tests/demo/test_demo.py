"""The demo company generator: determinism, file layout, data contracts and a believable story.

The contract tests read each export through the mapping in the ``healthscore.yaml`` the demo
writes, with a small independent reader here (pandas, not the ingest code), and check every
canonical column's rules from ``schemas.py``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from healthscore import schemas
from healthscore.demo import DemoError, DemoSummary, generate_demo
from healthscore.demo.timeline import Calendar

END = date(2026, 7, 1)
END_TS = pd.Timestamp(END)
WINDOW_START = pd.Timestamp(Calendar(END).start)
ACCOUNTS = 250

EXPECTED_COLUMNS = {
    "data/product/users.csv": ["user_id", "account_id", "role", "created_at", "deactivated_at"],
    "data/surveys/nps.csv": ["Account", "User", "Score", "Submitted", "Comment"],
    "data/surveys/csat.csv": ["account_id", "user_id", "score", "responded_at"],
    "data/billing/invoices.csv": ["Invoice Number", "Customer ID", "Amount", "Currency",
                                  "Invoice Date", "Due Date", "Paid Date"],
    "data/crm/touchpoints.csv": ["account_id", "type", "date", "owner"],
    "data/crm/contacts.csv": ["account_id", "contact_id", "role", "name", "active_from",
                              "active_to"],
    "data/lms/trainings.csv": ["account_id", "user_id", "course", "completed_at"],
    "data/marketing/advocacy.csv": ["account_id", "kind", "occurred_at"],
    "data/cs/outcomes.csv": ["account_id", "goal", "achieved_at"],
    "data/cs/pulses.csv": ["account_id", "value", "author", "comment", "at"],
    "data/crm/renewals.csv": ["account_id", "renewal_date", "outcome", "arr_before",
                              "arr_after"],
}
ACCOUNT_COLUMNS = ["Account ID", "Account Name", "Plan", "Segment", "Lifecycle Stage", "ARR",
                   "Seats", "CSM", "Renewal Date", "Contract Start", "Churn Date", "Industry",
                   "Snapshot Date"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    return generate_demo(tmp_path_factory.mktemp("demo"), accounts=ACCOUNTS, seed=7, end=END)


@pytest.fixture(scope="module")
def root(demo: DemoSummary) -> Path:
    return demo.out_dir


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def read_raw(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".jsonl":
        with open(path, encoding="utf-8") as fh:
            return pd.json_normalize([json.loads(line) for line in fh])
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def snapshots(root: Path) -> pd.DataFrame:
    files = sorted((root / "data/crm/accounts").glob("accounts_*.csv"))
    return pd.concat([read_raw(f).assign(file=f.name) for f in files], ignore_index=True)


# --- reading a source through healthscore.yaml (an independent, minimal reader) -------------

def _timestamps(text: pd.Series, fmt: str | None) -> pd.Series:
    empty = text.astype(str).isin(["", "None", "nan"]) | text.isna()
    if fmt == "epoch_ms":
        out = pd.to_datetime(pd.to_numeric(text.where(~empty)), unit="ms")
    elif fmt == "epoch_s":
        out = pd.to_datetime(pd.to_numeric(text.where(~empty)), unit="s")
    elif fmt and fmt != "iso":
        out = pd.to_datetime(text.where(~empty), format=fmt)
    else:
        out = pd.to_datetime(text.where(~empty), utc=True, format="ISO8601")
        out = out.dt.tz_convert(None)
    return out


def canonical(root: Path, source: dict, table: schemas.Table) -> pd.DataFrame:
    """One source's rows as canonical columns, after map and format (types parsed)."""
    frames = [read_raw(p) for p in sorted(root.glob(source["path"]))]
    assert frames, f"{source['path']} matched no file"
    raw = pd.concat(frames, ignore_index=True)
    out = {}
    for col in table.columns:
        spec = source.get("columns", {}).get(col.name, col.name)
        if isinstance(spec, str):
            spec = {"column": spec}
        if "value" in spec:
            values = pd.Series([spec["value"]] * len(raw))
        elif spec["column"] in raw.columns:
            values = raw[spec["column"]]
        else:
            continue
        if "map" in spec:
            values = values.map(lambda v, m=spec["map"]: m.get(v, v))
        values = values.astype(object).where(values.notna(), "")
        if col.type in ("timestamp", "date"):
            values = _timestamps(values, spec.get("format"))
        elif col.type in ("number", "integer") and not col.aliases:
            values = pd.to_numeric(values.astype(str).str.replace(r"[$,]", "", regex=True)
                                   .replace("", np.nan))
        out[col.name] = values
    return pd.DataFrame(out)


@pytest.fixture(scope="module")
def tables(root: Path) -> dict[str, pd.DataFrame]:
    config = yaml.safe_load((root / "healthscore.yaml").read_text(encoding="utf-8"))
    loaded: dict[str, list[pd.DataFrame]] = {}
    for source in config["sources"].values():
        table = schemas.table(source["table"])
        loaded.setdefault(table.name, []).append(canonical(root, source, table))
    return {name: pd.concat(parts, ignore_index=True) for name, parts in loaded.items()}


# --- determinism and layout ---------------------------------------------------------------------

def test_same_inputs_give_identical_files(root: Path, tmp_path: Path) -> None:
    again = generate_demo(tmp_path / "again", accounts=ACCOUNTS, seed=7, end=END)
    assert digests(again.out_dir) == digests(root)


def test_another_seed_gives_other_data(root: Path, tmp_path: Path) -> None:
    other = digests(generate_demo(tmp_path / "other", accounts=ACCOUNTS, seed=8, end=END).out_dir)
    mine = digests(root)
    assert other.keys() - mine.keys() <= {p for p in other if "accounts_" in p}
    assert other["data/product/events/part-00000.parquet"] != \
        mine["data/product/events/part-00000.parquet"]
    assert other["data/crm/renewals.csv"] != mine["data/crm/renewals.csv"]


def test_every_file_has_its_columns(root: Path, demo: DemoSummary) -> None:
    for rel, columns in EXPECTED_COLUMNS.items():
        assert list(read_raw(root / rel).columns) == columns, rel
    snaps = sorted((root / "data/crm/accounts").glob("accounts_*.csv"))
    assert len(snaps) >= 6  # quarter ends around 15 months, plus the final one
    assert snaps[-1].name == "accounts_2026-06-30.csv"
    for snap in snaps:
        frame = read_raw(snap)
        assert list(frame.columns) == ACCOUNT_COLUMNS
        assert set(frame["Snapshot Date"]) == {snap.name[len("accounts_"):-len(".csv")]}
    parts = sorted((root / "data/product/events").glob("part-*.parquet"))
    assert [p.name for p in parts] == ["part-00000.parquet"]  # 250 accounts: one chunk
    schema = pq.read_schema(parts[0])
    assert [(f.name, str(f.type)) for f in schema] == [
        ("account", "string"), ("user", "string"), ("event_name", "string"),
        ("time", "int64"), ("count", "int32")]
    ticket = json.loads((root / "data/helpdesk/tickets.jsonl").open().readline())
    assert isinstance(ticket["id"], int) and ticket["priority"] in ("P1", "P2", "P3", "P4")
    assert set(ticket["organization"]) == {"external_id", "name"}
    assert ticket["satisfaction_rating"]["score"] in ("good", "bad", "offered")
    # the summary counts what is on disk
    assert demo.rows["data/product/users.csv"] == len(read_raw(root / "data/product/users.csv"))
    assert demo.events == pq.read_metadata(parts[0]).num_rows
    assert (root / "healthscore.yaml").is_file()


def test_formats_are_the_exports_own(root: Path) -> None:
    snap = read_raw(root / "data/crm/accounts/accounts_2026-06-30.csv")
    assert snap["Account ID"].str.fullmatch(r"ACC-\d{6}").all()
    assert snap["ARR"].str.fullmatch(r"\$\d{1,3}(,\d{3})*\.\d{2}").all()
    assert snap["Renewal Date"].str.fullmatch(r"\d{2}/\d{2}/\d{4}").all()
    assert (~snap["Account Name"].map(str.isascii)).any()  # Müller & Söhne, GmbH and friends
    assert snap["CSM"].str.fullmatch(r"[a-z]+\.[a-z]+\d*").all()
    inv = read_raw(root / "data/billing/invoices.csv")
    assert inv["Amount"].str.fullmatch(r"\$\d{1,3}(,\d{3})*\.\d{2}").all()
    created = pd.read_json(root / "data/helpdesk/tickets.jsonl", lines=True)["created_at"]
    assert created.str[-6:].nunique() > 3  # several UTC offsets
    assert read_raw(root / "data/surveys/nps.csv")["Submitted"].str.fullmatch(
        r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}").all()


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    for kwargs in ({"accounts": 0}, {"seed": -1}, {"end": date(1970, 1, 1)}):
        with pytest.raises(DemoError):
            generate_demo(tmp_path, **kwargs)


# --- data contracts -----------------------------------------------------------------------------

def test_every_value_fits_the_canonical_contract(tables: dict[str, pd.DataFrame]) -> None:
    assert set(tables) == set(schemas.TABLES)
    for name, frame in tables.items():
        table = schemas.table(name)
        for col in table.columns:
            if col.name not in frame:
                assert not col.required, f"{name}.{col.name} is required"
                continue
            values = frame[col.name]
            present = values.notna() & (values.astype(str) != "")
            if col.required:
                assert present.all(), f"{name}.{col.name} has empty values"
            if col.allowed or col.aliases:
                text = values[present].astype(str).str.lower()
                ok = set(col.allowed or ()) | set(col.aliases)
                if col.type in ("number", "integer"):
                    text = text.map(lambda v, a=col.aliases: a.get(v, v))
                    ok |= {str(i) for i in range(1, 6)}
                assert set(text) <= ok, f"{name}.{col.name}: {set(text) - ok}"
            if col.min is not None and not col.aliases:
                assert (values[present] >= col.min).all(), f"{name}.{col.name} < {col.min}"
            if col.max is not None and not col.aliases:
                assert (values[present] <= col.max).all(), f"{name}.{col.name} > {col.max}"
            if col.not_future:
                assert (values[present] < END_TS).all(), f"{name}.{col.name} at/after end"
        for chk in table.checks:
            rows = frame
            for key, value in chk.when.items():
                rows = rows[rows[key] == value]
            if chk.kind == "range":
                scores = pd.to_numeric(rows[chk.column])
                assert scores.between(chk.min, chk.max).all(), chk.reason
            else:
                both = rows[chk.column].notna() & rows[chk.other].notna()
                assert (rows.loc[both, chk.column] >= rows.loc[both, chk.other]).all(), chk.reason


def test_every_timestamp_is_before_end(root: Path, tables: dict[str, pd.DataFrame]) -> None:
    events = pd.read_parquet(root / "data/product/events")
    assert events["time"].max() < END_TS.value // 10**6
    assert events["time"].min() >= WINDOW_START.value // 10**6
    for name, frame in tables.items():
        for col in schemas.table(name).columns:
            if col.type == "timestamp" and col.name in frame:
                assert (frame[col.name].dropna() < END_TS).all(), f"{name}.{col.name}"


def test_every_account_and_user_exists(root: Path, tables: dict[str, pd.DataFrame]) -> None:
    accounts = set(tables["accounts"]["account_id"])
    assert len(accounts) == ACCOUNTS
    for name, frame in tables.items():
        if name != "accounts" and "account_id" in frame:
            assert set(frame["account_id"]) <= accounts, name
    users = tables["users"].set_index("user_id")["account_id"]
    assert users.index.is_unique
    for name in ("usage_events", "surveys", "trainings"):
        frame = tables[name].dropna(subset=["user_id"])
        owner = users.reindex(frame["user_id"]).to_numpy()
        assert (owner == frame["account_id"].to_numpy()).all(), name


def test_users_act_only_while_they_exist(tables: dict[str, pd.DataFrame]) -> None:
    users = tables["users"].set_index("user_id")
    ev = tables["usage_events"]
    created = users["created_at"].reindex(ev["user_id"]).to_numpy()
    gone = users["deactivated_at"].reindex(ev["user_id"]).to_numpy()
    t = ev["timestamp"].to_numpy()
    assert (t >= created).all()
    assert ((t < gone) | pd.isna(gone)).all()
    assert users["deactivated_at"].notna().mean() > 0.05  # some users leave


# --- the story the data tells -------------------------------------------------------------------

def test_snapshots_show_the_account_history(root: Path) -> None:
    snaps = snapshots(root)
    snaps["day"] = pd.to_datetime(snaps["Snapshot Date"])
    start = pd.to_datetime(snaps["Contract Start"], format="%m/%d/%Y")
    assert (start <= snaps["day"]).all()  # in a snapshot only once a customer
    first = snaps.groupby("Account ID")["day"].min()
    began = start.groupby(snaps["Account ID"]).first()
    dates = sorted(snaps["day"].unique())
    # an account appears in the first snapshot on or after its contract start
    expect = began.map(lambda d: next(s for s in dates if s >= d))
    assert (first == expect.reindex(first.index)).all()
    assert (began >= WINDOW_START).mean() > 0.1  # new customers signed in the window
    assert (began < WINDOW_START - pd.Timedelta(days=730)).any()  # and some years ago
    for col in ("Plan", "Seats", "CSM"):
        changes = snaps.groupby("Account ID")[col].nunique()
        assert (changes > 1).sum() >= 5, f"no account changes {col} between snapshots"
    final = snaps[snaps["day"] == dates[-1]]
    onboarding = final["Lifecycle Stage"] == "Onboarding"
    recent = (END_TS - start[final.index]).dt.days < 90
    assert onboarding.any() and (onboarding == recent).all()
    churned = snaps["Churn Date"] != ""
    assert (snaps.loc[churned, "Lifecycle Stage"] == "Churned").all()
    assert (pd.to_datetime(snaps.loc[churned, "Churn Date"], format="%m/%d/%Y")
            <= snaps.loc[churned, "day"]).all()
    assert 0.05 < (final["Churn Date"] != "").mean() < 0.3


def test_renewals_cover_every_renewal_in_the_window(root: Path) -> None:
    final = read_raw(root / "data/crm/accounts/accounts_2026-06-30.csv").set_index("Account ID")
    ren = pd.read_csv(root / "data/crm/renewals.csv", parse_dates=["renewal_date"])
    start = pd.to_datetime(final["Contract Start"], format="%m/%d/%Y")
    churn = pd.to_datetime(final["Churn Date"], format="%m/%d/%Y")
    expected = set()
    for acc, s in start.items():
        for k in range(1, 12):
            day = s + pd.DateOffset(years=k)
            if WINDOW_START <= day < END_TS and not (pd.notna(churn[acc]) and day > churn[acc]):
                expected.add((acc, day))
    assert set(zip(ren["account_id"], ren["renewal_date"], strict=True)) == expected
    churned = ren[ren["outcome"] == "churned"]
    assert dict(zip(churned["account_id"], churned["renewal_date"], strict=True)) == \
        churn.dropna().to_dict()
    assert (churned["arr_after"] == 0).all()
    assert (ren.loc[ren.outcome == "expanded", "arr_after"]
            > ren.loc[ren.outcome == "expanded", "arr_before"]).all()
    assert (ren.loc[ren.outcome == "contracted", "arr_after"]
            < ren.loc[ren.outcome == "contracted", "arr_before"]).all()
    assert set(ren["outcome"]) == set(schemas.RENEWAL_OUTCOMES)


def test_churned_accounts_go_quiet(tables: dict[str, pd.DataFrame]) -> None:
    acc = tables["accounts"].dropna(subset=["churned_at"]).groupby("account_id")["churned_at"]
    churn = acc.max()
    assert len(churn) >= 10
    when = {"usage_events": "timestamp", "tickets": "opened_at", "surveys": "responded_at",
            "touchpoints": "occurred_at", "trainings": "completed_at", "advocacy": "occurred_at",
            "outcomes": "achieved_at", "pulses": "at", "invoices": "issued_at"}
    for name, col in when.items():
        frame = tables[name]
        limit = churn.reindex(frame["account_id"]).to_numpy()
        after = pd.notna(limit) & (frame[col].to_numpy() >= limit)
        assert not after.any(), f"{name} after churn"
    ev = tables["usage_events"]
    assert set(churn.index) & set(ev["account_id"])  # they were active before


def test_events_scale_with_accounts(demo: DemoSummary, tmp_path: Path) -> None:
    per_account = demo.events / ACCOUNTS
    assert 600 < per_account < 1600  # about 1,000 events per account over 15 months
    small = generate_demo(tmp_path, accounts=100, seed=7, end=END)
    assert 1.8 < demo.events / small.events < 3.4
    counts = pd.read_parquet(tmp_path / "data/product/events")["count"]
    assert (counts >= 1).all() and (counts == 1).mean() > 0.8  # mostly single events


def rank_auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Probability a random positive scores above a random negative (ties count half):
    the Mann-Whitney U statistic over n1·n0, with average ranks for ties."""
    ranks = pd.Series(score).rank().to_numpy()
    n1 = int(positive.sum())
    n0 = len(positive) - n1
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def test_rank_auc_oracle() -> None:
    """Hand-counted: pairs (pos, neg) = (3>1, 3>2, 1<2, 1=1 half) → 2.5 / 4."""
    assert rank_auc(np.array([3.0, 1.0, 1.0, 2.0]), np.array([True, True, False, False])) == 0.625


def signals_before_renewal(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per renewal (≥ 120 days into the window), signals from the months before it."""
    ren = tables["renewals"]
    ren = ren[ren["renewal_date"] >= WINDOW_START + pd.Timedelta(days=120)]
    key = ren[["account_id", "renewal_date"]]
    users = tables["users"].groupby("account_id").size()

    def before(name: str, col: str, days: int, frame: pd.DataFrame | None = None
               ) -> pd.core.groupby.DataFrameGroupBy:
        m = (tables[name] if frame is None else frame).merge(key, on="account_id")
        m = m[(m[col] < m["renewal_date"]) & (m[col] >= m["renewal_date"] - pd.Timedelta(days=days))]
        return m.groupby(["account_id", "renewal_date"])

    idx = pd.MultiIndex.from_frame(key)
    ev = before("usage_events", "timestamp", 60)
    n_users = users.reindex(idx.get_level_values(0)).to_numpy()
    surveys = tables["surveys"].astype({"score": float})
    inv = tables["invoices"].assign(
        late=lambda f: f["paid_at"].fillna(END_TS) > f["due_at"])
    out = pd.DataFrame({
        "churn": (ren.set_index(["account_id", "renewal_date"])["outcome"] == "churned"),
        "events_per_user": ev.size().reindex(idx).fillna(0).to_numpy() / n_users,
        "active_user_share": ev["user_id"].nunique().reindex(idx).fillna(0).to_numpy()
        / n_users,
        "tickets": before("tickets", "opened_at", 90).size().reindex(idx).fillna(0),
        "nps": before("surveys", "responded_at", 180, surveys[surveys["kind"] == "nps"])[
            "score"].mean().reindex(idx),
        "late_invoices": inv.merge(key, on="account_id").pipe(
            lambda m: m[(m["issued_at"] < m["renewal_date"])
                        & (m["issued_at"] >= m["renewal_date"] - pd.Timedelta(days=180))])
        .groupby(["account_id", "renewal_date"])["late"].mean().reindex(idx),
    }, index=idx)
    return out


def test_signals_foreshadow_churn_but_none_gives_it_away(
    tables: dict[str, pd.DataFrame],
) -> None:
    sig = signals_before_renewal(tables)
    churn = sig.pop("churn").to_numpy(dtype=bool)
    assert churn.sum() >= 15 and (~churn).sum() >= 60
    # +1: higher means more churn; -1: lower means more churn
    direction = {"events_per_user": -1, "active_user_share": -1, "tickets": 1, "nps": -1,
                 "late_invoices": 1}
    aucs = {}
    for name, sign in direction.items():
        x = sig[name].to_numpy(dtype=float)
        ok = ~np.isnan(x)
        aucs[name] = rank_auc(sign * x[ok], churn[ok])
    for name, auc in aucs.items():
        assert 0.6 < auc < 0.95, f"{name}: AUC {auc:.2f}"


def test_no_single_account_column_decides_churn(root: Path) -> None:
    """Firmographics and contract columns (before churn is written) do not reveal churn."""
    first = snapshots(root).drop_duplicates("Account ID")  # earliest snapshot per account
    final = read_raw(root / "data/crm/accounts/accounts_2026-06-30.csv").set_index("Account ID")
    churn = (final["Churn Date"] != "").reindex(first["Account ID"]).to_numpy()
    arr = first["ARR"].str.replace(r"[$,]", "", regex=True).astype(float).to_numpy()
    for score in (arr, first["Seats"].astype(float).to_numpy(),
                  first["Plan"].map({"Starter": 0, "Business": 1, "Enterprise": 2}).to_numpy(),
                  first["Segment"].map({"SMB": 0, "Mid-Market": 1, "Enterprise": 2}).to_numpy()):
        assert 0.2 < rank_auc(score.astype(float), churn) < 0.8

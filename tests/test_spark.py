"""The Spark adapter (local mode) gives the same records as the single-machine engine."""
import json
import random
from pathlib import Path

import msgspec
import pytest

pyspark = pytest.importorskip("pyspark")

from infucode import code_encounter, load_ruleset  # noqa: E402
from infucode.batch import spark as sp  # noqa: E402
from infucode.adapters.flat import INPUT_COLUMNS, encounter_from_rows, line_rows, rows_from_encounter  # noqa: E402
from infucode.model import InputError  # noqa: E402

DRUGS = [("ondansetron", "iv_push"), ("ondansetron", "iv_infusion"), ("normal saline", "iv_infusion"),
         ("paclitaxel", "iv_infusion"), ("vancomycin", "iv_infusion"), ("dexamethasone", "iv_push"),
         ("Gammagard", "iv_infusion"), ("denosumab", "sc"), ("rituximab", "iv_infusion")]


def synthetic(n: int, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    encounters = []
    for e in range(n):
        adms = []
        for a in range(rnd.randint(1, 4)):
            drug, route = rnd.choice(DRUGS)
            start = rnd.randint(7 * 60, 15 * 60)
            adm = {"id": f"a{a}", "drug": drug, "route": route, "start": f"{start // 60:02d}:{start % 60:02d}"}
            if route != "iv_push" and route != "sc" and rnd.random() > 0.05:
                stop = start + rnd.randint(5, 300)
                adm["stop"] = f"{(stop // 60) % 24:02d}:{stop % 60:02d}"
            adms.append(adm)
        encounters.append({"id": f"e{e:04d}", "setting": rnd.choice(["office", "facility"]), "date": "2024-07-01",
                           "administrations": adms})
    return encounters


@pytest.fixture(scope="module")
def spark():
    session = sp.spark_session("local[2]")
    yield session
    session.stop()


def test_jsonl_batch_on_spark_matches_single_machine(spark, tmp_path):
    encounters = synthetic(300)
    lines = [json.dumps(e) for e in encounters]
    lines.insert(10, '{"id": "broken", ')            # a bad line: reported, the rest coded
    lines.insert(20, "")                              # a blank line: skipped
    lines.append(json.dumps(encounters[3]))           # a duplicate id: reported, the first kept
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    coded, failed = sp.run_spark_batch(src, out, master="local[2]", chunk_lines=64, summary=tmp_path / "spark.json")
    assert (coded, failed) == (300, 2)
    rs = load_ruleset()
    expected = [msgspec.json.encode(code_encounter(e, rs)).decode() for e in encounters]
    assert out.read_text().splitlines() == expected
    broken, duplicate = (json.loads(e) for e in (tmp_path / "out.jsonl.errors.jsonl").read_text().splitlines())
    assert broken["error"]["line"] == 11
    assert duplicate["error"]["field"] == "id" and duplicate["error"]["line"] == len(lines)
    # the single-machine batch gives the same records and the same errors file, byte for byte
    from infucode.batch.runner import run_batch
    local = tmp_path / "local.jsonl"
    run_batch(src, local, workers=1, progress=False, summary=tmp_path / "local.json")
    assert local.read_bytes() == out.read_bytes()
    # and the same summary (duplicate not counted twice)
    assert (tmp_path / "spark.json").read_bytes() == (tmp_path / "local.json").read_bytes()
    assert json.loads((tmp_path / "spark.json").read_text())["encounters"]["coded"] == 300
    assert (tmp_path / "local.jsonl.errors.jsonl").read_bytes() == (tmp_path / "out.jsonl.errors.jsonl").read_bytes()


def test_administrations_dataframe_on_spark_matches_single_machine(spark):
    encounters = synthetic(120, seed=11)
    rows = [{**row, "seq": seq} for e in encounters for seq, row in enumerate(rows_from_encounter(e))]
    columns = list(INPUT_COLUMNS) + ["seq"]
    df = spark.createDataFrame([tuple(r[c] for c in columns) for r in rows],
                               ", ".join(f"`{c}` {'long' if c == 'seq' else 'string'}" for c in columns))
    got = sorted((r.encounter, r.line_index, r.code, r.units, r.modifiers, r.date, r.administrations, r.rule)
                 for r in sp.code_administrations(df).collect())
    rs = load_ruleset()
    expected = sorted((x["encounter"], x["line_index"], x["code"], x["units"], x["modifiers"], x["date"],
                       x["administrations"], x["rule"])
                      for e in encounters for x in line_rows(code_encounter(e, rs)))
    assert got == expected


def test_flat_rows_name_the_bad_field():
    with pytest.raises(InputError) as exc:
        encounter_from_rows([{"encounter_id": "e1", "setting": "office", "administration_id": "a1",
                              "drug": "ondansetron", "route": "iv_push", "pump": "maybe"}])
    assert exc.value.field == "administrations[0].pump"


def test_batch_cli_engine_spark_writes_what_the_local_engine_writes(spark, tmp_path):
    from typer.testing import CliRunner

    from infucode.batch.cli import batch_app

    src = Path(__file__).resolve().parents[1] / "examples" / "batch.jsonl"     # five encounters, two bad
    runner = CliRunner()
    on_spark = runner.invoke(batch_app, [str(src), str(tmp_path / "s.jsonl"), "--engine", "spark", "--master", "local[2]"])
    local = runner.invoke(batch_app, [str(src), str(tmp_path / "l.jsonl"), "--workers", "1"])
    assert on_spark.exit_code == local.exit_code == 1, on_spark.output
    assert "on Spark" in on_spark.output
    for suffix in ("", ".errors.jsonl"):
        assert (tmp_path / f"s.jsonl{suffix}").read_bytes() == (tmp_path / f"l.jsonl{suffix}").read_bytes()


def test_spark_ships_the_imported_cms_data_to_the_executors(spark, tmp_path):
    """`--data-dir` on Spark: the releases database goes to every executor (SparkContext.addFile), and each
    encounter is coded with the tables of its own date, as the local batch codes it."""
    from infucode.batch.runner import releases_dir, run_batch
    from infucode.reference.releases import ReleaseStore

    cms = Path(__file__).resolve().parent / "fixtures" / "cms"
    with ReleaseStore(tmp_path / "data", create=True) as store:
        store.import_file(cms / "MCR_MUE_PractitionerServices_Eff_07-01-2024.csv")   # 96366 MUE 4 (altered)
    ivig = {"setting": "office", "administrations": [{"id": "a1", "drug": "Gammagard Liquid", "hcpcs": "J1569",
            "route": "iv_infusion", "start": "08:00", "stop": "13:31", "dose": {"value": 30, "unit": "g"}}]}
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"e{i}", "date": day, **ivig}) + "\n"
                           for i, day in enumerate(["2024-08-15", "2023-02-01"] * 5)))
    out, local = tmp_path / "spark.jsonl", tmp_path / "local.jsonl"
    assert sp.run_spark_batch(src, out, master="local[2]", releases=releases_dir(tmp_path / "data")) == (10, 0)
    run_batch(src, local, workers=1, progress=False, data_dir=tmp_path / "data")
    assert out.read_bytes() == local.read_bytes()
    flagged = [any(f["rule"] == "limits.mue" for f in json.loads(line)["findings"]) for line in out.read_text().splitlines()]
    assert flagged == [True, False] * 5


def test_spark_codes_with_the_policies_given(spark, tmp_path):
    """--policy reaches the executors: an infusion of exactly 1:30 earns 96366 only under
    added_hour_threshold=at_least_30 (the seed page's reading; CPT's default is more than 30 minutes)."""
    from typer.testing import CliRunner

    from infucode.batch.cli import batch_app

    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "e1", "setting": "office", "date": "2024-07-01", "administrations": [
        {"id": "a1", "drug": "Gammagard Liquid", "route": "iv_infusion", "start": "08:00", "stop": "09:30"}]}) + "\n")
    runner = CliRunner()
    for policy, codes in (([], ["96365"]), (["--policy", "added_hour_threshold=at_least_30"], ["96365", "96366"])):
        out = tmp_path / f"s{len(policy)}.jsonl"
        result = runner.invoke(batch_app, [str(src), str(out), "--engine", "spark", "--master", "local[2]", *policy])
        assert result.exit_code == 0, result.output
        assert [line["code"] for line in json.loads(out.read_text())["lines"] if line["kind"] == "administration"] == codes
        local = tmp_path / f"l{len(policy)}.jsonl"
        assert runner.invoke(batch_app, [str(src), str(local), "--workers", "1", *policy]).exit_code == 0
        assert out.read_bytes() == local.read_bytes()

"""`export --budget`: parsing, refusal before anything is built, margins in export.json."""

from __future__ import annotations

import json

import pytest

from errors import FaultsynthError
from pipeline.device_cost import Budget, DeviceCost
from pipeline.export_budget import (DEFAULT_BUDGET, ExportBudget, check_auc_loss, check_device_cost,
                                    parse_export_budget)
from test_export import ae_export  # noqa: F401  (session fixture, built once)


def test_parse_export_budget():
    assert DEFAULT_BUDGET == ExportBudget(Budget(65536, 32768, 8e6), 0.01)
    assert parse_export_budget(" None ") is None
    assert parse_export_budget("flash=1MB,ram=64KB,instr=20M") == ExportBudget(Budget(1024 ** 2, 65536, 2e7), None)
    assert parse_export_budget("auc_loss=0.05,flash=1MB,ram=64KB,instr=20M").auc_loss == 0.05
    for bad in ("", "flash=64KB", "flash=64KB,ram=32KB,instr=8M,auc_loss=x",
                "flash=64KB,ram=32KB,instr=8M,auc_loss=2", "flash=64KB,ram=32KB,instr=8M,auc_loss=0.1,auc_loss=0.2"):
        with pytest.raises(FaultsynthError, match="auc_loss|flash=SIZE"):
            parse_export_budget(bad)


def test_over_budget_names_each_figure_and_the_excess():
    cost = DeviceCost(flash_bytes=170_000, ram_bytes=20_000, instructions_per_second=48.8e6, supported=True)
    with pytest.raises(FaultsynthError) as err:
        check_device_cost(cost, DEFAULT_BUDGET)
    text = str(err.value)
    assert "flash 170,000 B exceeds the budget 65,536 B by 104,464 B, 159.4%" in text
    assert "instructions per audio second 48.80 M exceeds the budget 8.00 M by 40.80 M" in text
    assert "RAM" not in text and "--budget none" in text
    assert check_device_cost(cost, None) is None
    fits = DeviceCost(flash_bytes=60_000, ram_bytes=30_000, instructions_per_second=7e6, supported=True)
    assert check_device_cost(fits, DEFAULT_BUDGET) == {"flash_bytes": 5536, "ram_bytes": 2768,
                                                       "instructions_per_second": 1e6}
    with pytest.raises(FaultsynthError, match=r"loses 0\.0215 AUC .* exceeds the budget auc_loss=0\.01 by 0\.0115"):
        check_auc_loss(0.0215, DEFAULT_BUDGET)
    assert check_auc_loss(0.004, DEFAULT_BUDGET) == pytest.approx(0.006)
    assert check_auc_loss(None, DEFAULT_BUDGET) is None and check_auc_loss(0.5, None) is None


def test_export_records_budget_and_margins(ae_export):  # noqa: F811
    _, out, info = ae_export
    saved = json.loads((out / "export.json").read_text())
    assert saved["budget"] == DEFAULT_BUDGET.to_dict()
    cost, margins = saved["device_cost_estimate"], saved["budget_margins"]
    assert margins["flash_bytes"] == 65536 - cost["flash_bytes"] > 0
    assert margins["ram_bytes"] == 32768 - cost["ram_bytes"] > 0
    assert margins["instructions_per_second"] == pytest.approx(8e6 - cost["instructions_per_second"])
    assert margins["auc_loss"] == pytest.approx(0.01 - saved["evaluation"]["auc_loss"])


def test_model_over_budget_is_refused_before_anything_is_written(ae_export, tmp_path, monkeypatch):  # noqa: F811
    from pipeline import export as E
    from pipeline import tflite_convert

    model, _, _ = ae_export
    monkeypatch.setattr(tflite_convert, "convert_autoencoder", lambda *a, **k: pytest.fail("converted a model over budget"))
    with pytest.raises(FaultsynthError, match=r"flash 35,\d{3} B exceeds the budget 20,480 B by"):
        E.export_bundle(model_dir=model, out_dir=tmp_path / "x",
                        budget=parse_export_budget("flash=20KB,ram=32KB,instr=8M"))
    assert not (tmp_path / "x").exists()


def test_budget_option_through_the_cli(ae_export, tmp_path):  # noqa: F811
    import typer
    from typer.testing import CliRunner

    from pipeline import device_commands

    app = typer.Typer()
    app.command("export")(device_commands.export)
    app.command("firmware")(device_commands.firmware)
    model, _, _ = ae_export
    bad = CliRunner().invoke(app, ["export", "--model", str(model), "--out", str(tmp_path / "x"),
                                   "--budget", "flash=64KB,ram=8KB,instr=8M"])
    assert isinstance(bad.exception, FaultsynthError) and "RAM 14," in str(bad.exception)
    assert not (tmp_path / "x").exists()

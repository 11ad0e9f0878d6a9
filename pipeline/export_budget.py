"""The device budget `export` holds a model to: flash, RAM, instructions and int8 AUC loss.

The device cost (:func:`pipeline.device_cost.estimate_cost`, the model ``tune``
ranks with) is checked before anything is converted or written; the AUC that
int8 loses against the float detector is checked once it is measured on the
evaluation data. A model over budget is refused with a :class:`FaultsynthError`
naming each figure over and by how much; ``export.json`` records the budget and
the margins (budget minus figure; negative = over).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from errors import FaultsynthError
from pipeline.device_cost import Budget, DeviceCost, parse_budget

#: The TinyML targets `export` holds models to unless told otherwise.
DEFAULT_BUDGET_TEXT = "flash=64KB,ram=32KB,instr=8M,auc_loss=0.01"
_FORM = (f"expected 'none' or 'flash=SIZE,ram=SIZE,instr=COUNT[,auc_loss=AUC]', e.g. '{DEFAULT_BUDGET_TEXT}' "
         "(SIZE in B, KB or MB with KB = 1024 bytes; COUNT instructions per audio second with k, M or G; "
         "auc_loss: largest AUC the int8 model may lose to the float one, 0..1)")


@dataclass(frozen=True)
class ExportBudget:
    """What an exported model may cost.

    Parameters
    ----------
    device : Budget
        Flash and RAM (bytes) and Cortex-M4 instructions per audio second.
    auc_loss : float or None
        Largest AUC drop from float to int8 on the evaluation data; None = not checked.
    """

    device: Budget
    auc_loss: float | None = None

    def __post_init__(self) -> None:
        if self.auc_loss is not None and not 0.0 <= self.auc_loss <= 1.0:
            raise FaultsynthError(f"budget auc_loss must be in [0, 1], got {self.auc_loss!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable figures."""
        return {"flash_bytes": int(self.device.flash_bytes), "ram_bytes": int(self.device.ram_bytes),
                "instructions_per_second": float(self.device.instructions_per_second), "auc_loss": self.auc_loss}


def parse_export_budget(text: str) -> ExportBudget | None:
    """Parse ``--budget``: ``"none"`` or ``"flash=64KB,ram=32KB,instr=8M[,auc_loss=0.01]"``.

    Returns
    -------
    ExportBudget or None
        None for ``"none"`` (no budget).

    Raises
    ------
    FaultsynthError
        Saying the expected form.
    """
    if not isinstance(text, str) or not text.strip():
        raise FaultsynthError(f"empty --budget: {_FORM}")
    if text.strip().lower() == "none":
        return None
    device, auc_loss = [], None
    for item in text.split(","):
        key, _, value = item.partition("=")
        if key.strip().lower() != "auc_loss":
            device.append(item)
            continue
        if auc_loss is not None:
            raise FaultsynthError(f"auc_loss given twice in {text!r}: {_FORM}")
        try:
            auc_loss = float(value)
        except ValueError:
            raise FaultsynthError(f"budget auc_loss {value.strip()!r} is not a number: {_FORM}") from None
    try:
        budget = parse_budget(",".join(device))
    except FaultsynthError as exc:
        raise FaultsynthError(f"bad --budget {text!r} ({exc}): {_FORM}") from None
    return ExportBudget(device=budget, auc_loss=auc_loss)


#: The budget `export` uses when none is given.
DEFAULT_BUDGET = parse_export_budget(DEFAULT_BUDGET_TEXT)


def _over(name: str, value: float, limit: float, unit: str, scale: float = 1.0, fmt: str = ",.0f") -> str:
    excess = value - limit
    share = f", {excess / limit:.1%}" if limit > 0 else ""
    return (f"{name} {value / scale:{fmt}}{unit} exceeds the budget {limit / scale:{fmt}}{unit} by "
            f"{excess / scale:{fmt}}{unit}{share}")


def check_device_cost(cost: DeviceCost, budget: ExportBudget | None) -> dict[str, float] | None:
    """Refuse a model whose estimated cost exceeds ``budget``; return the margins.

    Returns
    -------
    dict or None
        Budget minus estimate for ``flash_bytes``, ``ram_bytes`` and
        ``instructions_per_second`` (None without a budget).

    Raises
    ------
    FaultsynthError
        Naming every figure over budget and by how much.
    """
    if budget is None:
        return None
    b = budget.device
    over = []
    if cost.flash_bytes > b.flash_bytes:
        over.append(_over("flash", cost.flash_bytes, b.flash_bytes, " B"))
    if cost.ram_bytes > b.ram_bytes:
        over.append(_over("RAM", cost.ram_bytes, b.ram_bytes, " B"))
    if cost.instructions_per_second > b.instructions_per_second:
        over.append(_over("instructions per audio second", cost.instructions_per_second,
                          b.instructions_per_second, " M", 1e6, ".2f"))
    if over:
        raise FaultsynthError("model over the device budget (Cortex-M4 estimate of pipeline/device_cost.py): "
                              + "; ".join(over) + ". Export a smaller model, or pass a larger --budget "
                              "(or --budget none)")
    return {"flash_bytes": int(b.flash_bytes) - int(cost.flash_bytes),
            "ram_bytes": int(b.ram_bytes) - int(cost.ram_bytes),
            "instructions_per_second": float(b.instructions_per_second) - float(cost.instructions_per_second)}


def check_auc_loss(auc_loss: float | None, budget: ExportBudget | None) -> float | None:
    """Refuse an int8 model that loses more AUC than ``budget.auc_loss``; return the margin.

    ``auc_loss`` None (evaluation data of one class) or no budget: nothing to check, None.
    """
    if budget is None or budget.auc_loss is None or auc_loss is None:
        return None
    if auc_loss > budget.auc_loss + 1e-12:
        raise FaultsynthError(f"the int8 model loses {auc_loss:.4f} AUC to the float one on the evaluation data, "
                              f"which exceeds the budget auc_loss={budget.auc_loss:g} by "
                              f"{auc_loss - budget.auc_loss:.4f}: retrain (more epochs, or a model whose scores "
                              "quantise better), or pass a larger auc_loss in --budget")
    return float(budget.auc_loss - auc_loss)

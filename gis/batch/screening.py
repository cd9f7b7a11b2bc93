"""One chunk's verdict columns from its sites and its cells of facts: the work a batch repeats for every chunk,
in the batch's own process or on a cluster's worker (``gis.batch.distributed``), with the same code.

The facts are read by class (``read_projects``, the classes kept from chunk to chunk), the sites screened
against the rules (``Screener``), and each row is told what reading its facts assumed (读取提示 of its class),
then whether its county cell names a unit its site does not lie in. What the site reader noticed of each row is
added by the batch, which holds the rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

import numpy as np
import pandas as pd

from gis.batch.columnar import CodedText
from gis.batch.county import AdminUnits
from gis.batch.spatial import BatchEngine
from gis.batch.verdicts import Screener, thresholds
from gis.presentation import notice_text
from gis.rules.model import RulePack
from gis.rules.project import read_projects

__all__ = ["ChunkScreener"]

#: Project classes kept from chunk to chunk (about 2 kB each); a varied register has some 15,000 per 100,000 rows.
_KEPT_CLASSES = 50_000


class ChunkScreener:
    """Screens the chunks of one register: sites and the cells of their facts in, verdict columns out.

    Parameters
    ----------
    batch, packs, as_of, by_row_upto, processes
        As ``Screener`` takes them.
    defaults
        Facts of every row that does not give them (``read_projects``).
    multipliers
        Units of the register's numeric columns (``read_projects``).
    source
        The register's name, as notices cite it.
    units
        The store's administrative units, for a register with a county column (``Screener``).
    """

    def __init__(self, batch: BatchEngine, packs: list[RulePack], as_of: dt.date, *,
                 defaults: Mapping[str, Any] | None = None, multipliers: Mapping[str, float] | None = None,
                 source: str | None = None, by_row_upto: int = 0, processes: int = 0,
                 units: AdminUnits | None = None) -> None:
        self.screener = Screener(batch, packs, as_of, by_row_upto=by_row_upto, processes=processes, units=units)
        self.defaults = defaults
        self.multipliers = multipliers
        self.source = source
        self._limits = thresholds(packs)
        self._classes: dict = {}  # classes read, for the chunks to come (this screener's thread alone uses it)

    @property
    def rows_exact(self) -> int:
        """Rows checked one by one so far."""
        return self.screener.rows_exact

    def screen(self, geoms: np.ndarray, facts: Mapping[str, np.ndarray],
               county: np.ndarray | None = None) -> dict[str, CodedText | list]:
        """Verdict columns of rows of sites (lon/lat shapely, None where unread) and their facts' cells (fact
        name -> a cell per row), as ``Screener.screen`` gives them, with 读取提示: what reading each row's
        facts assumed or could not read, then what its county cell (``county``, a cell per row) says against
        its site (None: nothing)."""
        if len(self._classes) > _KEPT_CLASSES:  # between chunks: past the bound, each is read again when met
            self._classes.clear()
        projects = read_projects(facts, len(geoms), thresholds=self._limits, defaults=self.defaults,
                                 multipliers=self.multipliers, source=self.source, classes=self._classes)
        verdicts = self.screener.screen(geoms, projects, county)
        said = ["；".join(filter(None, map(notice_text, notices))) or None for notices in projects.notices]
        placed = verdicts["读取提示"]  # the county's notices, if any
        if not (placed.codes >= 0).any():
            verdicts["读取提示"].put(np.arange(len(geoms)), said, projects.codes)
            return verdicts
        # each distinct (project class, county notice) pair joined once
        which, pairs = pd.factorize((projects.codes.astype(np.int64) + 1) * (len(placed.texts) + 1) + placed.codes + 1)
        classes, notices = np.divmod(pairs, len(placed.texts) + 1)
        texts = ["；".join(filter(None, (said[c - 1] if c else None, placed.texts[n - 1] if n else None))) or None
                 for c, n in zip(classes.tolist(), notices.tolist())]
        joined = CodedText(len(geoms))
        joined.put(np.arange(len(geoms)), texts, which)
        verdicts["读取提示"] = joined
        return verdicts

    def submit(self, geoms: np.ndarray, facts: Mapping[str, np.ndarray], county: np.ndarray | None = None) -> Future:
        """``screen`` now, as a future already done: the batch takes this and a cluster's screening alike."""
        done: Future = Future()
        done.set_result(self.screen(geoms, facts, county))
        return done

    def close(self) -> None:
        """Stop the processes forked for checks, if any."""
        self.screener.close()
